"""Command line of the Fashion-MNIST experiment: ``python -m geomalg.experiments.fmnist``."""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import torch

from .data import DEFAULT_DATA_DIR, load_fashion_mnist, prepare_data
from .experiment import run_experiment
from .results import format_accuracy_table, format_summary, write_results
from .training import RunConfig
from .variants import VARIANTS, available_variant_names, get_variant

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)

_DEFAULTS = RunConfig(variants=())


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def _variant_name(text: str) -> str:
    try:
        get_variant(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser; defaults come from :class:`RunConfig`."""
    parser = argparse.ArgumentParser(
        prog="python -m geomalg.experiments.fmnist",
        description="Train a Fashion-MNIST MLP whose hidden layers are dense, low-rank, "
                    "block-Hadamard or rotor layers. The learning rate is selected per variant "
                    "on a validation split of the training set, and test accuracy is reported "
                    "for the selected run.",
    )
    parser.add_argument("--out", type=Path, default=Path("results/fmnist"),
                        help="output folder for config, checkpoints, JSON, CSV and plot "
                             "(default results/fmnist)")

    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help=f"folder with the four Fashion-MNIST IDX files, raw or .gz "
                             f"(default {DEFAULT_DATA_DIR})")
    parser.add_argument("--variants", type=_variant_name, nargs="+", default=None,
                        help=f"hidden-layer variants to train, from {', '.join(VARIANTS)} "
                             f"(default: every available one, now {' '.join(available_variant_names())})")

    parser.add_argument("--epochs", type=_positive_int, default=_DEFAULTS.epochs,
                        help=f"training epochs per run, the same for every variant (default {_DEFAULTS.epochs})")
    parser.add_argument("--hidden-sizes", type=_positive_int, nargs="+", default=list(_DEFAULTS.hidden_sizes),
                        help="widths of the hidden layers (default "
                             f"{' '.join(map(str, _DEFAULTS.hidden_sizes))})")
    parser.add_argument("--batch-size", type=_positive_int, default=_DEFAULTS.batch_size,
                        help=f"mini-batch size (default {_DEFAULTS.batch_size})")
    parser.add_argument("--learning-rates", type=_positive_float, nargs="+",
                        default=list(_DEFAULTS.learning_rates),
                        help="Adam learning rates searched per variant (default "
                             f"{' '.join(f'{rate:g}' for rate in _DEFAULTS.learning_rates)})")
    parser.add_argument("--validation-size", type=_positive_int, default=_DEFAULTS.validation_size,
                        help="training images held out for learning-rate selection "
                             f"(default {_DEFAULTS.validation_size})")
    parser.add_argument("--seed", type=_nonnegative_int, default=_DEFAULTS.seed,
                        help=f"seed of the split, the initial weights and the batch order (default {_DEFAULTS.seed})")

    parser.add_argument("--rank", type=_positive_int, default=_DEFAULTS.rank,
                        help=f"rank of the low-rank layers (default {_DEFAULTS.rank})")
    parser.add_argument("--block-size", type=_positive_int, default=_DEFAULTS.block_size,
                        help=f"block size of the block-Hadamard layers, a power of two (default {_DEFAULTS.block_size})")

    parser.add_argument("--chunk-size", type=_positive_int, default=_DEFAULTS.chunk_size,
                        help="chunk size of the rotor layers, a power of two from 4 to 4096 "
                             "(default: the largest power of two not above the smaller width of each layer)")
    parser.add_argument("--gadget-width", type=_positive_int, default=_DEFAULTS.gadget_width,
                        help=f"parallel rotor layers per stage of the rotor gadget (default {_DEFAULTS.gadget_width})")
    parser.add_argument("--gadget-depth", type=_positive_int, default=_DEFAULTS.gadget_depth,
                        help=f"stages of the rotor gadget (default {_DEFAULTS.gadget_depth})")
    parser.add_argument("--feature-scales", action="store_true",
                        help="give the rotor layers learned per-feature input and output scales")

    parser.add_argument("--threads", type=_positive_int, default=None,
                        help="CPU threads for torch (default: torch's own choice)")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true",
                          help="continue the runs stored in --out from their last checkpoints")
    existing.add_argument("--overwrite", action="store_true",
                          help="delete the results stored in --out and start again")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="logging level (default INFO)")
    return parser


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the experiment from command-line arguments, print its tables and write its files.

    Returns the results dictionary described in
    :mod:`geomalg.experiments.fmnist.results`.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    variants = args.variants if args.variants is not None else available_variant_names()
    config = RunConfig(
        variants=tuple(dict.fromkeys(variants)),
        hidden_sizes=tuple(args.hidden_sizes),
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rates=tuple(dict.fromkeys(args.learning_rates)),
        validation_size=args.validation_size,
        seed=args.seed,
        rank=args.rank,
        block_size=args.block_size,
        chunk_size=args.chunk_size,
        gadget_width=args.gadget_width,
        gadget_depth=args.gadget_depth,
        feature_scales=args.feature_scales,
    )
    dataset = load_fashion_mnist(args.data_dir)
    data = prepare_data(dataset, config.validation_size, config.seed)
    logger.info("data: %d training, %d validation, %d test images from %s",
                len(data.train_x), len(data.validation_x), len(data.test_x), args.data_dir)

    results = run_experiment(config, data, args.out, resume=args.resume, overwrite=args.overwrite,
                             progress=not args.no_progress)
    paths = write_results(results, args.out)

    print("Test accuracy (%) per epoch, selected learning rate per variant:")
    print(format_accuracy_table(results))
    print()
    print(format_summary(results))
    print()
    print("Wrote " + ", ".join(str(path) for path in paths.values()))
    return results
