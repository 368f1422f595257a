"""Output folder handling and the loop over variants and learning rates."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

from .data import NUM_CLASSES, PreparedData
from .training import RunConfig, select_learning_rate, train_run
from .variants import build_mlp, get_variant, hidden_parameter_count

__all__ = ["OutputExistsError", "OUTPUT_NAMES", "checkpoint_path", "prepare_output_dir", "run_experiment"]

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
CHECKPOINT_DIR_NAME = "checkpoints"
RESULTS_JSON_NAME = "results.json"
RESULTS_CSV_NAME = "results.csv"
PLOT_NAME = "fmnist_accuracy.png"
OUTPUT_NAMES = (CONFIG_NAME, CHECKPOINT_DIR_NAME, RESULTS_JSON_NAME, RESULTS_CSV_NAME, PLOT_NAME)

# Settings that change what a checkpoint means.  The variants, learning
# rates and epoch count may change on --resume, because every
# (variant, learning rate) run keeps its own per-epoch checkpoint.
_RESUME_KEYS = ("hidden_sizes", "batch_size", "validation_size", "seed", "rank", "block_size",
                "chunk_size", "gadget_width", "gadget_depth", "feature_scales",
                "train_count", "test_count")


# Settings that older config files lack, with the value those runs used.
_ADDED_SETTINGS = {"chunk_size": None, "gadget_width": 3, "gadget_depth": 2, "feature_scales": False}


class OutputExistsError(FileExistsError):
    """The output folder already contains results and neither resume nor overwrite was requested."""


def _config_record(config: RunConfig, data: PreparedData) -> dict:
    record = dataclasses.asdict(config)
    record["hidden_sizes"] = list(config.hidden_sizes)
    record["variants"] = list(config.variants)
    record["learning_rates"] = list(config.learning_rates)
    record["train_count"] = len(data.train_x)
    record["test_count"] = len(data.test_x)
    return record


def prepare_output_dir(out: Path, config_record: dict, resume: bool, overwrite: bool) -> None:
    """Create ``out`` for a run, keeping, replacing or protecting earlier results.

    Raises
    ------
    OutputExistsError
        If ``out`` contains results and neither ``resume`` nor ``overwrite`` is set.
    ValueError
        If ``resume`` and ``overwrite`` are both set, or ``resume`` meets a
        stored configuration that differs in a setting checkpoints depend on.
    """
    if resume and overwrite:
        raise ValueError("resume and overwrite exclude each other, so pass only one")
    existing = [name for name in OUTPUT_NAMES if (out / name).exists()]
    if existing and not (resume or overwrite):
        raise OutputExistsError(
            f"output folder {out} already contains {', '.join(existing)}; pass --resume to "
            "continue those runs, --overwrite to replace them, or choose another --out")

    if overwrite:
        for name in existing:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        logger.info("removed earlier results in %s: %s", out, ", ".join(existing))

    config_path = out / CONFIG_NAME
    if resume and config_path.is_file():
        stored = json.loads(config_path.read_text())
        for key in _RESUME_KEYS:
            stored_value = stored.get(key, _ADDED_SETTINGS.get(key))
            if stored_value != config_record[key]:
                raise ValueError(
                    f"cannot resume in {out}: {key} is {config_record[key]!r} but the stored runs "
                    f"used {stored_value!r}; rerun with the stored value, --overwrite, or another --out")

    out.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(config_record, indent=2) + "\n")


def checkpoint_path(out: Path, variant: str, learning_rate: float) -> Path:
    """Return the checkpoint file of one (variant, learning rate) run."""
    return out / CHECKPOINT_DIR_NAME / variant / f"lr_{learning_rate:g}.pt"


def run_experiment(
    config: RunConfig,
    data: PreparedData,
    out: Path,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Train every (variant, learning rate) pair and select one learning rate per variant.

    The learning rate is selected on validation accuracy after the last
    epoch, and the test accuracy of that run is reported.  See
    :func:`geomalg.experiments.fmnist.results.write_results` for the layout
    of the returned dictionary.

    Raises
    ------
    OutputExistsError, ValueError
        From :func:`prepare_output_dir`, for an unknown or unavailable
        variant, or for layer settings that a variant rejects.
    NonFiniteLossError
        If a run's loss becomes NaN or infinite.
    """
    variants = [get_variant(name) for name in config.variants]
    # Building every model first rejects invalid settings, such as a rank
    # above a hidden width, before any output is written or run trained.
    models = {
        variant.name: build_mlp(variant, config.hidden_sizes, config.layer_options,
                                in_features=data.train_x.shape[1], num_classes=NUM_CLASSES)
        for variant in variants
    }
    config_record = _config_record(config, data)
    prepare_output_dir(out, config_record, resume, overwrite)

    results: dict = {
        "config": config_record,
        "dataset": {"train": len(data.train_x), "validation": len(data.validation_x), "test": len(data.test_x)},
        "variants": {},
    }
    for variant in variants:
        model = models[variant.name]
        histories = {}
        for learning_rate in config.learning_rates:
            logger.info("training %s at learning rate %g", variant.name, learning_rate)
            histories[learning_rate] = train_run(
                variant, learning_rate, config, data, checkpoint_path(out, variant.name, learning_rate),
                progress=progress)
        selected = select_learning_rate(histories)
        results["variants"][variant.name] = {
            "total_params": sum(p.numel() for p in model.parameters()),
            "hidden_params": hidden_parameter_count(model),
            "selected_learning_rate": selected,
            "runs": {f"{rate:g}": history for rate, history in histories.items()},
        }
        logger.info("%s: selected learning rate %g, test accuracy %.4f", variant.name, selected,
                    histories[selected][-1]["test_accuracy"])
    return results
