"""Results table (Markdown, CSV, JSON) and the plot of Δlog-PPL against parameters."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .storage import atomic_write_bytes, atomic_write_text

__all__ = ["ResultRow", "markdown_table", "write_reports"]

logger = logging.getLogger(__name__)

PLOT_FILE = "llm_delta_log_ppl.png"


@dataclass
class ResultRow:
    """One method's measurements.

    Attributes
    ----------
    method : str
    layers : list of int
        Decoder layers whose q/k/v were replaced (empty for the original).
    parameters : int
        Parameters of the q/k/v projections of those layers after replacement
        (for the original: of the dense projections of the same layers).
    log_ppl : float
        Mean negative log-likelihood per token on the test windows, in nats.
    delta_log_ppl : float
        ``log_ppl`` minus the original model's.
    accuracy, accuracy_norm : float
        Multiple-choice accuracy, plain and length-normalised.
    fit_seconds, eval_seconds : float
        Wall time of capture plus training, and of evaluation, on the run
        that computed them.
    tokens, items : int
        Scored tokens and multiple-choice items.
    details : dict
        Per-projection fit errors and other method-specific facts.
    """

    method: str
    layers: list[int]
    parameters: int
    log_ppl: float
    delta_log_ppl: float
    accuracy: float
    accuracy_norm: float
    fit_seconds: float
    eval_seconds: float
    tokens: int
    items: int
    details: dict = field(default_factory=dict)

    @property
    def wall_seconds(self) -> float:
        """Fit plus evaluation time."""
        return self.fit_seconds + self.eval_seconds


_COLUMNS = ("method", "layers", "parameters", "log_ppl", "delta_log_ppl", "accuracy",
            "accuracy_norm", "wall_seconds", "fit_seconds", "eval_seconds", "tokens", "items")


def _layers_text(layers: list[int]) -> str:
    return ",".join(str(layer) for layer in layers) if layers else "-"


def markdown_table(rows: list[ResultRow]) -> str:
    """Return the results as a Markdown table, one row per method."""
    lines = [
        "| method | layers | parameters (q/k/v) | log-PPL | Δ vs original | accuracy | wall time (s) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.method} | {_layers_text(row.layers)} | {row.parameters:,} | {row.log_ppl:.4f} | "
            f"{row.delta_log_ppl:+.4f} | {row.accuracy:.3f} | {row.wall_seconds:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _csv_text(rows: list[ResultRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_COLUMNS)
    for row in rows:
        values = {**asdict(row), "layers": _layers_text(row.layers), "wall_seconds": row.wall_seconds}
        writer.writerow([values[column] for column in _COLUMNS])
    return buffer.getvalue()


def _plot(rows: list[ResultRow], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6.4, 4.2), dpi=120)
    for row in rows:
        axes.scatter(row.parameters, row.delta_log_ppl, s=36)
        axes.annotate(row.method, (row.parameters, row.delta_log_ppl),
                      textcoords="offset points", xytext=(5, 4), fontsize=8)
    axes.axhline(0.0, color="grey", linewidth=0.8)
    axes.set_xscale("log")
    axes.set_xlabel("parameters of the replaced q/k/v projections")
    axes.set_ylabel("Δ log-perplexity vs original (nats/token)")
    axes.set_title(title, fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pyplot.close(figure)
    atomic_write_bytes(path, buffer.getvalue())


def write_reports(rows: list[ResultRow], folder: str | Path, title: str, metadata: dict) -> dict[str, Path]:
    """Write ``results.md``, ``results.csv``, ``results.json`` and the plot into ``folder``.

    Returns
    -------
    dict of str to Path
        The written files by format.
    """
    folder = Path(folder)
    paths = {
        "markdown": folder / "results.md",
        "csv": folder / "results.csv",
        "json": folder / "results.json",
        "plot": folder / PLOT_FILE,
    }
    atomic_write_text(paths["markdown"], f"{title}\n\n{markdown_table(rows)}")
    atomic_write_text(paths["csv"], _csv_text(rows))
    payload = {
        "metadata": metadata,
        "rows": [{**asdict(row), "wall_seconds": row.wall_seconds} for row in rows],
    }
    atomic_write_text(paths["json"], json.dumps(payload, indent=2, allow_nan=True) + "\n")

    plotted = [row for row in rows if math.isfinite(row.delta_log_ppl) and row.parameters > 0]
    _plot(plotted, paths["plot"], title)
    for kind, path in paths.items():
        logger.info("wrote %s %s", kind, path)
    return paths
