"""Tables, JSON, CSV and plot of a Fashion-MNIST experiment.

The results dictionary of :func:`~geomalg.experiments.fmnist.experiment.run_experiment`
contains ``config``, ``dataset`` (split sizes) and ``variants``, which maps each
variant name to ``total_params``, ``hidden_params``, ``selected_learning_rate``
and ``runs``.  ``runs`` maps each learning rate, formatted with ``:g``, to its
list of per-epoch records.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .experiment import PLOT_NAME, RESULTS_CSV_NAME, RESULTS_JSON_NAME

__all__ = ["format_accuracy_table", "format_summary", "plot_results", "selected_history", "write_results"]

def selected_history(entry: dict) -> list[dict]:
    """Return the per-epoch records of a variant's selected learning rate."""
    return entry["runs"][f"{entry['selected_learning_rate']:g}"]


def format_accuracy_table(results: dict) -> str:
    """Format test accuracy (%) per epoch, one column per variant at its selected learning rate."""
    names = list(results["variants"])
    histories = [selected_history(results["variants"][name]) for name in names]
    width = max([8, *(len(name) for name in names)])
    lines = ["epoch  " + "  ".join(name.rjust(width) for name in names)]
    for index in range(max(len(history) for history in histories)):
        cells = []
        for history in histories:
            cell = f"{100 * history[index]['test_accuracy']:.2f}" if index < len(history) else "-"
            cells.append(cell.rjust(width))
        lines.append(f"{index + 1:>5}  " + "  ".join(cells))
    return "\n".join(lines)


def format_summary(results: dict) -> str:
    """Format one line per variant: parameters, selected learning rate, final accuracies."""
    header = (f"{'variant':<16}{'hidden params':>14}{'total params':>14}{'lr':>9}"
              f"{'val acc %':>11}{'test acc %':>12}")
    lines = [header]
    for name, entry in results["variants"].items():
        last = selected_history(entry)[-1]
        lines.append(f"{name:<16}{entry['hidden_params']:>14,}{entry['total_params']:>14,}"
                     f"{entry['selected_learning_rate']:>9g}{100 * last['validation_accuracy']:>11.2f}"
                     f"{100 * last['test_accuracy']:>12.2f}")
    return "\n".join(lines)


def _write_csv(results: dict, path: Path) -> None:
    fields = ["variant", "learning_rate", "selected", "hidden_params", "total_params", "epoch",
              "train_loss", "validation_accuracy", "test_accuracy", "seconds"]
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields)
        writer.writeheader()
        for name, entry in results["variants"].items():
            selected = f"{entry['selected_learning_rate']:g}"
            for rate, history in entry["runs"].items():
                for record in history:
                    writer.writerow({
                        "variant": name,
                        "learning_rate": rate,
                        "selected": rate == selected,
                        "hidden_params": entry["hidden_params"],
                        "total_params": entry["total_params"],
                        **record,
                    })


def plot_results(results: dict, path: Path) -> None:
    """Save a PNG with test accuracy vs epoch and final test accuracy vs parameter count."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, (epoch_axes, params_axes) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, entry in results["variants"].items():
        history = selected_history(entry)
        epochs = [record["epoch"] for record in history]
        accuracy = [100 * record["test_accuracy"] for record in history]
        label = f"{name} (lr {entry['selected_learning_rate']:g})"
        epoch_axes.plot(epochs, accuracy, marker="o", markersize=3, label=label)
        params_axes.scatter(entry["total_params"], accuracy[-1], s=40)
        params_axes.annotate(name, (entry["total_params"], accuracy[-1]),
                             textcoords="offset points", xytext=(5, 4), fontsize=9)

    epoch_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    epoch_axes.set_xlabel("epoch")
    epoch_axes.set_ylabel("test accuracy (%)")
    epoch_axes.set_title("Test accuracy per epoch (selected learning rate)")
    epoch_axes.grid(alpha=0.3)
    epoch_axes.legend(fontsize=8)
    params_axes.set_xscale("log")
    # Leave room for the point labels at both ends of the axis.
    params_axes.margins(x=0.25, y=0.15)
    params_axes.set_xlabel("model parameters (log scale)")
    params_axes.set_ylabel("final test accuracy (%)")
    params_axes.set_title("Final test accuracy vs parameters")
    params_axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_results(results: dict, out: Path) -> dict[str, Path]:
    """Write ``results.json``, ``results.csv`` and the PNG plot to ``out``; return their paths."""
    paths = {
        "json": out / RESULTS_JSON_NAME,
        "csv": out / RESULTS_CSV_NAME,
        "plot": out / PLOT_NAME,
    }
    paths["json"].write_text(json.dumps(results, indent=2) + "\n")
    _write_csv(results, paths["csv"])
    plot_results(results, paths["plot"])
    return paths
