"""Swap the hidden layers of an MLP for rotor layers, train it, and export it back to nn.Linear.

Run from the repository root::

    python examples/replace_linear.py            # one to two minutes on one core
    python examples/replace_linear.py --quick    # a few seconds

The task is synthetic: points on two interleaved spirals in 64 dimensions.
The script trains a dense MLP and the same MLP with
:class:`geomalg.nn.RotorLinear` hidden layers on identical batches, prints
their accuracy and cost, and checks that ``to_dense()`` reproduces the rotor
model exactly.
"""

import argparse
import math

import torch
from torch import nn

from geomalg.nn import RotorLinear, layer_cost


def spirals(count: int, embedding: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``count`` points of two spirals, mapped to ``embedding.shape[0]`` dimensions by ``embedding``."""
    labels = torch.randint(0, 2, (count,), generator=generator)
    radius = torch.rand(count, generator=generator) * 3 * math.pi
    angle = radius + math.pi * labels
    plane = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1) / math.pi
    noise = 0.02 * torch.randn(count, embedding.shape[0], generator=generator)
    return plane @ embedding.T + noise, labels


def mlp(hidden_layer, width: int) -> nn.Sequential:
    return nn.Sequential(hidden_layer(width, 256), nn.ReLU(), hidden_layer(256, 256), nn.ReLU(), nn.Linear(256, 2))


def train(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, steps: int) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    batches = torch.Generator().manual_seed(1)
    for _ in range(steps):
        batch = torch.randint(0, len(inputs), (128,), generator=batches)
        loss = nn.functional.cross_entropy(model(inputs[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def accuracy(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(inputs).argmax(dim=1) == labels).float().mean().item()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="train for 100 steps instead of 800")
    steps = 100 if parser.parse_args(argv).quick else 800
    torch.manual_seed(0)
    width = 64
    generator = torch.Generator().manual_seed(0)
    # Orthonormal columns, so the plane of the spirals sits at a random angle to every axis.
    embedding = torch.linalg.qr(torch.randn(width, 2, generator=generator))[0]
    train_x, train_y = spirals(4096, embedding, generator)
    test_x, test_y = spirals(2048, embedding, generator)

    models = {
        "dense": mlp(nn.Linear, width),
        "rotor": mlp(lambda n_in, n_out: RotorLinear(n_in, n_out, chunk_size=16), width),
    }
    print(f"{'model':8s} {'hidden params':>14s} {'hidden FLOPs/token':>19s} {'test accuracy':>14s}")
    for name, model in models.items():
        train(model, train_x, train_y, steps)
        model.eval()
        hidden = [layer_cost(layer) for layer in (model[0], model[2])]
        params = sum(cost.params for cost in hidden)
        flops = sum(cost.flops_per_token for cost in hidden)
        print(f"{name:8s} {params:14,d} {flops:19,d} {accuracy(model, test_x, test_y):14.3f}")

    # Export: every RotorLinear becomes the nn.Linear it computes.
    rotor_model = models["rotor"]
    exported = nn.Sequential(*[layer.to_dense() if isinstance(layer, RotorLinear) else layer
                               for layer in rotor_model])
    with torch.no_grad():
        difference = (exported(test_x) - rotor_model(test_x)).abs().max().item()
    print(f"exported dense model differs by at most {difference:.1e}")
    if difference > 1e-4:
        raise SystemExit("to_dense() does not reproduce the rotor model")


if __name__ == "__main__":
    main()
