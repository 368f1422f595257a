"""The experiment: replace q/k/v projections layer by layer, then measure the cost.

For each method and each chosen layer in order, the inputs and outputs of
the layer's q/k/v projections are captured on training text.  The method's
replacements are already installed in the earlier layers at that point.
Each projection is then replaced by a structured layer fitted by MSE, and
optionally ``o_proj`` is refitted.  The modified model is then evaluated on test text.  Captures,
fitted replacements and result rows are cached under the output folder.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .capture import QKV, Activations, capture_activations, token_stream, token_windows
from .fit import FitResult, FitSettings, fit_replacement, refit_o_proj
from .methods import DEFAULT_METHODS, ORIGINAL, MethodRegistry, ReplacementMethod, default_registry
from .metrics import bos_prefix, log_perplexity, multiple_choice_accuracy
from .models import AttentionProjections, LoadedModel, attention_projections, load_model, num_decoder_layers
from .report import ResultRow, write_reports
from .storage import (CACHE_FOLDER, ROWS_FOLDER, atomic_save, atomic_write_text, cache_key,
                      load_cached, prepare_output_folder)
from .tasks import MultipleChoiceItem, load_arc_challenge, load_hellaswag, next_sentence_task
from .text import Corpus, load_corpus

__all__ = ["TASKS", "ExperimentConfig", "run_experiment"]

logger = logging.getLogger(__name__)

TASKS = ("next-sentence", "arc-challenge", "hellaswag")


@dataclass(frozen=True)
class ExperimentConfig:
    """Settings of one run; see ``python -m geomalg.experiments.llm --help`` for each.

    ``layers=None`` picks the middle decoder layer, and ``methods=None`` runs
    :data:`~geomalg.experiments.llm.methods.DEFAULT_METHODS`, skipping any
    whose layer class is not importable.  With ``method_learning_rates``
    (the default), a method that sets its own learning rate is fitted with
    it instead of ``fit.learning_rate``.
    """

    model: str | None = None
    text: str | None = None
    layers: tuple[int, ...] | None = None
    methods: tuple[str, ...] | None = None
    capture_tokens: int = 4096
    validation_tokens: int = 1024
    capture_window: int = 256
    fit: FitSettings = field(default_factory=FitSettings)
    method_learning_rates: bool = True
    refit_o_proj: bool = False
    eval_window: int = 256
    eval_stride: int = 128
    windows: int = 32
    task: str = "next-sentence"
    task_items: int = 100
    task_choices: int = 4
    seed: int = 0
    device: str | None = None
    dtype: str = "float32"
    device_map: str | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; use one of {', '.join(TASKS)}")
        for name in ("capture_tokens", "validation_tokens", "capture_window", "eval_window",
                     "windows", "task_items", "task_choices"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.task_choices < 2:
            raise ValueError(f"task_choices must be at least 2, got {self.task_choices}")
        if not 1 <= self.eval_stride <= self.eval_window:
            raise ValueError(f"eval_stride must be between 1 and eval_window ({self.eval_window}), "
                             f"got {self.eval_stride}")

    def result_settings(self) -> dict:
        """Return the settings that change a method's results.

        Device placement is left out, and so is the list of methods, so that
        ``--resume`` with other ``--methods`` adds rows to the same run.
        """
        settings = dataclasses.asdict(self)
        for name in ("device", "device_map", "methods"):
            settings.pop(name)
        return settings


@dataclass
class _Context:
    config: ExperimentConfig
    folder: Path
    loaded: LoadedModel
    corpus: Corpus
    layers: tuple[int, ...]
    targets: list[AttentionProjections]
    train_windows: list[list[int]]
    validation_windows: list[list[int]]
    eval_ids: list[int]
    items: list[MultipleChoiceItem]
    progress: bool

    @property
    def skip_first(self) -> int:
        return len(bos_prefix(self.loaded.tokenizer))


def _load_items(config: ExperimentConfig, corpus: Corpus) -> list[MultipleChoiceItem]:
    if config.task == "arc-challenge":
        return load_arc_challenge(limit=config.task_items)
    if config.task == "hellaswag":
        return load_hellaswag(limit=config.task_items)
    return next_sentence_task(corpus.test, config.task_items, config.task_choices, seed=config.seed)


def _parameter_count(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def _evaluate(context: _Context) -> tuple[float, int, float, float, float]:
    config = context.config
    bos = bos_prefix(context.loaded.tokenizer)
    started = time.perf_counter()
    perplexity = log_perplexity(
        context.loaded.model, context.eval_ids, config.eval_window, config.eval_stride,
        max_windows=config.windows, bos_token_id=bos[0] if bos else None, progress=context.progress,
    )
    choices = multiple_choice_accuracy(context.loaded.model, context.loaded.tokenizer, context.items,
                                       progress=context.progress)
    seconds = time.perf_counter() - started
    return perplexity.log_perplexity, perplexity.tokens, choices.accuracy, choices.accuracy_norm, seconds


def _row_path(context: _Context, name: str, key: str) -> Path:
    return context.folder / ROWS_FOLDER / f"{name}-{key}.json"


def _load_row(path: Path) -> ResultRow | None:
    if not path.is_file():
        return None
    values = json.loads(path.read_text(encoding="utf-8"))
    logger.info("reusing result row %s", path)
    return ResultRow(**values)


def _save_row(path: Path, row: ResultRow) -> None:
    atomic_write_text(path, json.dumps(dataclasses.asdict(row), indent=2) + "\n")


def _evaluation_key(context: _Context) -> dict:
    config = context.config
    return {
        "model": context.loaded.model_id, "corpus": context.corpus.name, "dtype": config.dtype,
        "eval_window": config.eval_window, "eval_stride": config.eval_stride, "windows": config.windows,
        "task": config.task, "task_items": config.task_items, "task_choices": config.task_choices,
        "seed": config.seed,
    }


def _original_row(context: _Context) -> ResultRow:
    path = _row_path(context, ORIGINAL, cache_key(_evaluation_key(context)))
    row = _load_row(path)
    if row is not None:
        return row

    logger.info("evaluating the original model")
    log_ppl, tokens, accuracy, accuracy_norm, seconds = _evaluate(context)
    parameters = sum(_parameter_count(target.projection(name)) for target in context.targets for name in QKV)
    row = ResultRow(ORIGINAL, list(context.layers), parameters, log_ppl, 0.0, accuracy, accuracy_norm,
                    0.0, seconds, tokens, len(context.items))
    _save_row(path, row)
    return row


def _capture(context: _Context, target: AttentionProjections, prior: list[str]) -> tuple[Activations, Activations, str]:
    config = context.config
    settings = {
        "model": context.loaded.model_id, "corpus": context.corpus.name, "dtype": config.dtype,
        "layer": target.layer_index, "prior_replacements": prior, "capture_tokens": config.capture_tokens,
        "validation_tokens": config.validation_tokens, "capture_window": config.capture_window,
        "seed": config.seed, "o_proj": config.refit_o_proj,
    }
    key = cache_key(settings)
    path = context.folder / CACHE_FOLDER / "activations" / f"layer{target.layer_index}-{key}.pt"
    cached = load_cached(path)
    if cached is not None:
        logger.info("reusing captured activations %s", path)
        return Activations.from_dict(cached["train"]), Activations.from_dict(cached["validation"]), key

    logger.info("capturing layer %d on %d train and %d validation tokens", target.layer_index,
                config.capture_tokens, config.validation_tokens)
    train = capture_activations(context.loaded.model, target, context.train_windows, context.skip_first,
                                config.refit_o_proj, context.progress, f"capture layer {target.layer_index}")
    validation = capture_activations(context.loaded.model, target, context.validation_windows,
                                     context.skip_first, config.refit_o_proj, context.progress,
                                     f"capture layer {target.layer_index} (validation)")
    atomic_save(path, {"settings": settings, "train": train.to_dict(), "validation": validation.to_dict()})
    return train, validation, key


def _fit_projection(
    context: _Context,
    method: ReplacementMethod,
    target: AttentionProjections,
    name: str,
    train: Activations,
    validation: Activations,
    capture_key: str,
) -> tuple[nn.Module, FitResult, str]:
    config = context.config
    original = target.projection(name)
    weight = original.weight
    fit = config.fit
    if config.method_learning_rates and method.learning_rate is not None:
        fit = dataclasses.replace(fit, learning_rate=method.learning_rate)
    settings = {"capture": capture_key, "projection": name, "method": method.name,
                "method_settings": method.settings, "fit": fit.to_dict()}
    key = cache_key(settings)
    path = (context.folder / CACHE_FOLDER / "replacements"
            / f"layer{target.layer_index}-{name}-{method.name}-{key}.pt")

    torch.manual_seed(fit.seed)
    module = method.build(weight.shape[1], weight.shape[0]).to(device=weight.device, dtype=torch.float32)
    cached = load_cached(path)
    if cached is not None:
        module.load_state_dict(cached["state_dict"])
        result = FitResult(**cached["fit"])
    else:
        result = fit_replacement(module, train.inputs, train.outputs[name], validation.inputs,
                                 validation.outputs[name], fit, context.progress,
                                 f"{method.name} layer {target.layer_index} {name}")
        atomic_save(path, {"settings": settings, "state_dict": module.state_dict(),
                           "fit": dataclasses.asdict(result)})
    logger.info("%s layer %d %s: validation relative MSE %.4f (best epoch %d, %.1f s)", method.name,
                target.layer_index, name, result.validation_relative_mse, result.best_epoch, result.seconds)
    return module.to(dtype=weight.dtype), result, key


def _refit_o_proj(context: _Context, target: AttentionProjections, train: Activations,
                  validation: Activations) -> dict:
    # Capture o_proj inputs again with the new q/k/v installed; the targets
    # are the original attention outputs recorded before the replacement.
    model = context.loaded.model
    new_train = capture_activations(model, target, context.train_windows, context.skip_first, True,
                                    context.progress, "capture o_proj")
    new_validation = capture_activations(model, target, context.validation_windows, context.skip_first,
                                         True, context.progress, "capture o_proj (validation)")
    o_proj = target.projection("o_proj")
    weight = refit_o_proj(o_proj, new_train.o_proj_inputs, train.o_proj_outputs)

    def validation_mse(candidate: torch.Tensor) -> float:
        predictions = new_validation.o_proj_inputs.double() @ candidate.T
        if o_proj.bias is not None:
            predictions = predictions + o_proj.bias.detach().cpu().double()
        return torch.mean((predictions - validation.o_proj_outputs.double()) ** 2).item()

    original_weight = o_proj.weight.detach().cpu().double()
    before, after = validation_mse(original_weight), validation_mse(weight)
    # Keep the refit only when it helps on validation text.
    if after < before:
        refitted = nn.Linear(o_proj.in_features, o_proj.out_features, bias=o_proj.bias is not None,
                             device=o_proj.weight.device, dtype=o_proj.weight.dtype)
        with torch.no_grad():
            refitted.weight.copy_(weight)
            if o_proj.bias is not None:
                refitted.bias.copy_(o_proj.bias)
        target.replace("o_proj", refitted)
    logger.info("o_proj refit of layer %d: validation MSE %.4g -> %.4g (%s)", target.layer_index,
                before, after, "kept" if after < before else "discarded")
    return {"validation_mse_before": before, "validation_mse_after": after, "kept": after < before}


def _method_row_path(context: _Context, method: ReplacementMethod) -> Path:
    row_settings = {**_evaluation_key(context), **context.config.result_settings(),
                    "layers": list(context.layers), "method": method.name,
                    "method_settings": method.settings, "method_learning_rate": method.learning_rate}
    return _row_path(context, method.name, cache_key(row_settings))


def _earlier_rows(context: _Context, registry: MethodRegistry, methods: list[ReplacementMethod]) -> list[ResultRow]:
    """Return the rows that earlier runs into this folder finished, with these settings, for other methods."""
    requested = {method.name for method in methods}
    rows = []
    for name in registry.names():
        if name in requested or registry.unavailable_reason(name) is not None:
            continue
        row = _load_row(_method_row_path(context, registry.get(name)))
        if row is not None:
            rows.append(row)
    return rows


def _method_row(context: _Context, method: ReplacementMethod, original: ResultRow) -> ResultRow:
    config = context.config
    path = _method_row_path(context, method)
    row = _load_row(path)
    if row is not None:
        return row

    originals = {(target.layer_index, name): target.projection(name)
                 for target in context.targets for name in (*QKV, "o_proj")}
    started = time.perf_counter()
    prior: list[str] = []
    parameters = 0
    details: dict = {}
    try:
        for target in context.targets:
            train, validation, capture_key = _capture(context, target, prior)
            fitted = {}
            for name in QKV:
                module, result, key = _fit_projection(context, method, target, name, train, validation,
                                                      capture_key)
                fitted[name] = module
                parameters += _parameter_count(module)
                details[f"layer{target.layer_index}.{name}"] = dataclasses.asdict(result)
                prior.append(f"{target.layer_index}.{name}:{method.name}:{key}")
            for name, module in fitted.items():
                target.replace(name, module)
            if config.refit_o_proj:
                details[f"layer{target.layer_index}.o_proj"] = _refit_o_proj(context, target, train, validation)
        fit_seconds = time.perf_counter() - started

        logger.info("evaluating %s", method.name)
        log_ppl, tokens, accuracy, accuracy_norm, eval_seconds = _evaluate(context)
    finally:
        for (layer_index, name), module in originals.items():
            next(t for t in context.targets if t.layer_index == layer_index).replace(name, module)

    row = ResultRow(method.name, list(context.layers), parameters, log_ppl, log_ppl - original.log_ppl,
                    accuracy, accuracy_norm, fit_seconds, eval_seconds, tokens, len(context.items), details)
    _save_row(path, row)
    return row


def _metadata(context: _Context) -> dict:
    return {
        "model": context.loaded.model_id,
        "corpus": context.corpus.name,
        "settings": context.config.result_settings(),
        "layers": list(context.layers),
        "torch": torch.__version__,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "finished_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }


def run_experiment(
    config: ExperimentConfig,
    out: str | Path,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    registry: MethodRegistry | None = None,
    loaded: LoadedModel | None = None,
    corpus: Corpus | None = None,
) -> list[ResultRow]:
    """Run the experiment and write the reports into ``out``.

    Parameters
    ----------
    config : ExperimentConfig
    out : str or Path
        Output folder for reports, result rows and the cache.
    resume, overwrite : bool
        How to treat a folder that already contains a run; see
        :func:`~geomalg.experiments.llm.storage.prepare_output_folder`.
    progress : bool
        Show tqdm bars.
    registry : MethodRegistry or None
        Replacement methods; ``None`` uses :func:`default_registry`.
    loaded : LoadedModel or None
        A model already loaded; ``None`` loads ``config.model``.
    corpus : Corpus or None
        A corpus already loaded; ``None`` loads ``config.text``.

    Returns
    -------
    list of ResultRow
        The original model first, then one row per method, then the rows of
        other methods that earlier runs into ``out`` finished with the same
        settings (after ``resume``).

    Raises
    ------
    ValueError
        For an unknown method, model or layer, a model without separate
        q/k/v projections, or an output folder that contains a run (see ``resume``).
    MethodUnavailableError
        If a method named in ``config.methods`` cannot be built.
    FileNotFoundError
        If the corpus is missing.
    """
    registry = default_registry() if registry is None else registry
    explicit = config.methods is not None
    methods = registry.resolve(config.methods if explicit else DEFAULT_METHODS, explicit)

    # Check the folder before the slow loading, and record the run only once
    # the model, layers and corpus are known to be valid.
    prepare_output_folder(out, config.result_settings(), resume, overwrite, record=False)
    if loaded is None:
        loaded = load_model(config.model, config.device, config.dtype, config.device_map)
    layers = config.layers if config.layers is not None else (num_decoder_layers(loaded.model) // 2,)
    targets = attention_projections(loaded.model, list(layers))
    corpus = load_corpus(config.text) if corpus is None else corpus
    folder = prepare_output_folder(out, config.result_settings(), resume, overwrite, record=True)

    tokenizer = loaded.tokenizer
    context = _Context(
        config=config, folder=folder, loaded=loaded, corpus=corpus, layers=tuple(layers), targets=targets,
        train_windows=token_windows(tokenizer, corpus.train, config.capture_tokens, config.capture_window,
                                    config.seed),
        validation_windows=token_windows(tokenizer, corpus.validation, config.validation_tokens,
                                         config.capture_window, config.seed),
        eval_ids=token_stream(tokenizer, corpus.test,
                              config.eval_window + config.eval_stride * (config.windows - 1), config.seed),
        items=_load_items(config, corpus),
        progress=progress,
    )
    logger.info("layers %s, methods %s", list(layers), [method.name for method in methods])

    rows = [_original_row(context)]
    for method in methods:
        rows.append(_method_row(context, method, rows[0]))
    # A resumed run with other methods keeps the finished rows in its reports.
    rows.extend(_earlier_rows(context, registry, methods))

    layer_label = "layer" if len(layers) == 1 else "layers"
    title = f"{loaded.model_id}, {layer_label} {','.join(map(str, layers))}, {corpus.name}"
    write_reports(rows, folder, title, _metadata(context))
    return rows
