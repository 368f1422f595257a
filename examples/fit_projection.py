"""Fit structured layers to a fixed linear map, as the LLM experiment does for q/k/v projections.

Run from the repository root::

    python examples/fit_projection.py            # under a minute on one core
    python examples/fit_projection.py --quick    # a few seconds

The teacher is a 256 -> 256 linear map whose singular values decay like
1 / (1 + i) and whose singular vectors are random.  Each student is trained
by mean squared error on the teacher's outputs with
:func:`geomalg.experiments.llm.fit.fit_replacement`, and the script prints
the validation error relative to the output variance (1.0 is no better than
predicting the mean) next to the parameter count.

On this generic teacher the rotor layers fit poorly (relative MSE near 1)
while rank 4 captures most of the variance: sums of chunk rotations cannot
single out a few random directions.  The attention projections of
gemma-3-270m behave differently, and there the rotor layer with feature
scales fits better than rank 4 (see the LLM experiment page of the docs).
Swap in your own weight and inputs to see which case you are in.
"""

import argparse

import torch
from torch import nn

from geomalg.experiments.llm.fit import FitSettings, fit_replacement
from geomalg.nn import LowRankLinear, RotorLinear


def teacher(width: int, generator: torch.Generator) -> torch.Tensor:
    """Return a ``(width, width)`` weight with singular values ``1 / (1 + i)`` and random singular vectors."""
    left = torch.linalg.qr(torch.randn(width, width, generator=generator))[0]
    right = torch.linalg.qr(torch.randn(width, width, generator=generator))[0]
    singular_values = 1.0 / (1.0 + torch.arange(width, dtype=torch.float32))
    return left @ torch.diag(singular_values) @ right.T


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="train for 3 epochs instead of 30")
    epochs = 3 if parser.parse_args(argv).quick else 30
    torch.manual_seed(0)
    width = 256
    generator = torch.Generator().manual_seed(0)
    weight = teacher(width, generator)
    train_x = torch.randn(4096, width, generator=generator)
    validation_x = torch.randn(1024, width, generator=generator)

    students = {
        # name: (module, peak learning rate)
        "low-rank, rank 4": (LowRankLinear(width, width, 4), 5e-2),
        "rotor, chunks of 32": (RotorLinear(width, width, chunk_size=32), 5e-2),
        "rotor, chunks of 32, feature scales": (RotorLinear(width, width, chunk_size=32, feature_scales=True), 1e-1),
        "dense": (nn.Linear(width, width), 1e-2),
    }
    print(f"{'student':38s} {'params':>8s} {'relative MSE':>13s}")
    for name, (module, learning_rate) in students.items():
        settings = FitSettings(epochs=epochs, learning_rate=learning_rate)
        result = fit_replacement(module, train_x, train_x @ weight.T, validation_x, validation_x @ weight.T,
                                 settings, progress=False)
        params = sum(parameter.numel() for parameter in module.parameters())
        print(f"{name:38s} {params:8,d} {result.validation_relative_mse:13.3f}")


if __name__ == "__main__":
    main()
