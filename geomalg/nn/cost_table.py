"""Cost table of dense and structured layers at the attention widths of small LLMs.

Run ``python -m geomalg.nn.cost_table`` to print it.  The counting rules are
those of :mod:`geomalg.nn.accounting`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from torch import nn

from .accounting import layer_cost

__all__ = ["MODEL_WIDTHS", "comparison_layers", "cost_rows", "format_cost_table", "main"]

# Widths (in_features, out_features) of the attention input projections:
# q_proj first, then k_proj and v_proj.  LLaMA-3.2-1B has hidden size 2048 and
# 8 key-value heads of size 64; gemma-3-270m has hidden size 640, 4 query
# heads and 1 key-value head of size 256.
MODEL_WIDTHS: dict[str, tuple[tuple[int, int], ...]] = {
    "LLaMA-3.2-1B": ((2048, 2048), (2048, 512)),
    "gemma-3-270m": ((640, 1024), (640, 256)),
}


LayerFactory = Callable[[int, int], nn.Module]


def comparison_layers(rank: int = 64, block_size: int = 64) -> list[tuple[str, LayerFactory]]:
    """Return named factories ``(in_features, out_features) -> module`` for the cost table.

    The list holds dense, low-rank and block-Hadamard layers, and, when
    :class:`geomalg.nn.RotorLinear` exists, the rotor layer and the rotor
    gadget of width 3 and depth 2, both with their default chunk size, and
    the rotor layer on chunks of 64 with feature scales.  With
    ``rank == block_size`` the low-rank and block-Hadamard layers have about
    the same parameter count, :math:`r(n_{in} + n_{out})`.
    """
    from geomalg import nn as geomalg_nn

    factories: list[tuple[str, LayerFactory]] = [
        ("dense", lambda n_in, n_out: nn.Linear(n_in, n_out)),
        (f"low-rank r={rank}", lambda n_in, n_out: geomalg_nn.LowRankLinear(n_in, n_out, rank)),
        (
            f"block-Hadamard b={block_size}",
            lambda n_in, n_out: geomalg_nn.BlockHadamardLinear(n_in, n_out, block_size=block_size),
        ),
    ]
    rotor_class = getattr(geomalg_nn, "RotorLinear", None)
    if rotor_class is not None:
        factories.append(("rotor", lambda n_in, n_out: rotor_class(n_in, n_out)))
        factories.append(("rotor gadget W=3 D=2", lambda n_in, n_out: geomalg_nn.RotorGadget(n_in, n_out)))
        factories.append(("rotor c=64 + scales",
                          lambda n_in, n_out: rotor_class(n_in, n_out, chunk_size=64, feature_scales=True)))
    return factories


def cost_rows(
    widths: dict[str, Sequence[tuple[int, int]]] | None = None,
    factories: Sequence[tuple[str, LayerFactory]] | None = None,
    bytes_per_param: int | None = None,
) -> list[dict[str, object]]:
    """Build one row per (model, width, layer) with its :class:`LayerCost`.

    Each row maps ``model``, ``in_features``, ``out_features``, ``layer``,
    ``params``, ``flops_per_token``, ``weight_bytes_per_token`` and
    ``params_vs_dense`` (the parameter ratio to the first factory, which is
    the dense layer in :func:`comparison_layers`).
    """
    widths = MODEL_WIDTHS if widths is None else widths
    factories = comparison_layers() if factories is None else factories
    rows: list[dict[str, object]] = []
    for model_name, pairs in widths.items():
        for n_in, n_out in pairs:
            reference_params = None
            for layer_name, factory in factories:
                module = factory(n_in, n_out)
                cost = layer_cost(module, bytes_per_param)
                if reference_params is None:
                    reference_params = cost.params
                rows.append({
                    "model": model_name,
                    "in_features": n_in,
                    "out_features": n_out,
                    "layer": layer_name,
                    "params": cost.params,
                    "flops_per_token": cost.flops_per_token,
                    "weight_bytes_per_token": cost.weight_bytes_per_token,
                    "params_vs_dense": cost.params / reference_params,
                })
    return rows


_COLUMNS = (
    ("model", "model", "{}"),
    ("width", None, "{}"),
    ("layer", "layer", "{}"),
    ("params", "params", "{:,}"),
    ("FLOPs/token", "flops_per_token", "{:,}"),
    ("weight bytes/token", "weight_bytes_per_token", "{:,}"),
    ("params vs dense", "params_vs_dense", "{:.4f}"),
)


def format_cost_table(rows: Sequence[dict[str, object]], style: str = "text") -> str:
    """Format rows from :func:`cost_rows` as an aligned text table or an RST grid table.

    Raises
    ------
    ValueError
        If ``style`` is not ``"text"`` or ``"rst"``.
    """
    if style not in ("text", "rst"):
        raise ValueError(f"style must be 'text' or 'rst', got {style!r}")
    header = [title for title, _, _ in _COLUMNS]
    body = []
    for row in rows:
        cells = []
        for _, key, template in _COLUMNS:
            if key is None:
                cells.append(f"{row['in_features']}->{row['out_features']}")
            else:
                cells.append(template.format(row[key]))
        body.append(cells)
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def render(cells: list[str], align_right: bool) -> str:
        padded = []
        for i, cell in enumerate(cells):
            numeric = align_right and i >= 3
            padded.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        if style == "rst":
            return "| " + " | ".join(padded) + " |"
        return "  ".join(padded).rstrip()

    if style == "text":
        rule = "  ".join("-" * w for w in widths)
        return "\n".join([render(header, False), rule, *(render(cells, True) for cells in body)])

    border = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    header_border = border.replace("-", "=")
    lines = [border, render(header, False), header_border]
    for cells in body:
        lines.append(render(cells, True))
        lines.append(border)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the cost table of the comparison layers at the LLaMA-3.2-1B and gemma-3-270m widths."""
    parser = argparse.ArgumentParser(
        prog="python -m geomalg.nn.cost_table",
        description="Print parameters, FLOPs per token and weight bytes read per token "
                    "of dense, low-rank, block-Hadamard (and rotor, when available) layers.",
    )
    parser.add_argument("--rank", type=int, default=64, help="rank of the low-rank layer (default 64)")
    parser.add_argument("--block-size", type=int, default=64,
                        help="block size of the block-Hadamard layer (default 64)")
    parser.add_argument("--bytes-per-param", type=int, default=2,
                        help="bytes per stored weight, e.g. 2 for bfloat16, 4 for float32 (default 2)")
    parser.add_argument("--format", choices=("text", "rst"), default="text",
                        help="table format (default text)")
    args = parser.parse_args(argv)
    rows = cost_rows(factories=comparison_layers(args.rank, args.block_size),
                     bytes_per_param=args.bytes_per_param)
    print(format_cost_table(rows, style=args.format))


if __name__ == "__main__":
    main()
