"""Figures as PNG: reported vs reproduced bars, per-epoch histories, rendered tables.

Figures are drawn on a bare ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot,
no global backend switch, so a notebook's inline display keeps working) and written
atomically. Each function returns the Figure, so a notebook can also show it. Pixel size =
``figsize`` x ``dpi`` exactly (constrained layout, no tight bbox cropping).

* :func:`plot_reported_vs_reproduced` -- grouped bars, the paper's number (light, hatched)
  beside the reproduced mean (solid, ± std error bar): GAPDCEC Fig. 2/3 ("Datasets vs ACC/NMI"),
  PQDEC Fig. 3/4 (speed/memory vs method: ``x="method"``).
* :func:`plot_histories` -- a metric vs clustering epoch, one line per method (mean over
  seeds, band = min-max or ± std): GAPDCEC Fig. 4-9.
* :func:`render_table_png` -- any DataFrame as a table image.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from repro.report.atomic import write_bytes_atomic
from repro.report.units import convert

DPI = 100
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
CELL_COLORS = {"within": "#d9f2d9", "holds": "#d9f2d9", "deviates": "#f8d7d7",
               "fails": "#f8d7d7", "inconclusive": "#fff2cc", "not run": "#eeeeee",
               "not comparable": "#eeeeee"}


def _new_figure(figsize: tuple[float, float]) -> Figure:
    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Render ``figure`` to PNG bytes and write them to ``path`` atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return write_bytes_atomic(path, buffer.getvalue())


def plot_reported_vs_reproduced(comparison_df: pd.DataFrame, metric: str, path: str | Path, *,
                                title: str, x: str = "dataset",
                                labels: Mapping[str, str] | None = None, log_y: bool = False,
                                figsize: tuple[float, float] | None = None, dpi: int = DPI
                                ) -> Figure:
    """Grouped bars of ``metric`` from a :func:`~repro.report.compare.compare` frame.

    ``x`` ("dataset" or "method") picks the x-axis categories; the other key forms the bar
    groups (one colour each). Per group: the reported number (light, hatched) and the
    reproduced mean with a ± std error bar (solid); "n/r" marks a cell not run. Values are
    in the paper's unit (the frame's ``unit`` column). Filter the frame first to plot a subset.
    """
    if x not in ("dataset", "method"):
        raise ValueError(f"x must be 'dataset' or 'method', got {x!r}")
    rows = comparison_df[comparison_df["metric"] == metric]
    if rows.empty:
        raise ValueError(f"no rows for metric {metric!r}; metrics: "
                         f"{sorted(comparison_df['metric'].unique())}")
    group = "method" if x == "dataset" else "dataset"
    label = (lambda key: (labels or {}).get(key, key))
    xs, groups = list(dict.fromkeys(rows[x])), list(dict.fromkeys(rows[group]))
    slot = 0.8 / len(groups)
    figure = _new_figure(figsize or (float(np.clip(2.5 + 0.45 * len(xs) * len(groups), 6, 16)), 4.8))
    ax = figure.add_subplot()
    for g, group_key in enumerate(groups):
        color = PALETTE[g % len(PALETTE)]
        part = rows[rows[group] == group_key].set_index(x).reindex(xs)
        centers = np.arange(len(xs)) - 0.4 + slot * (g + 0.5)
        ax.bar(centers - slot / 4, part["reported"], slot / 2, color=color, alpha=0.35,
               hatch="//", edgecolor=color, linewidth=0.8)
        ax.bar(centers + slot / 4, part["reproduced_mean"], slot / 2, color=color,
               yerr=part["reproduced_std"].fillna(0), capsize=2, ecolor="black",
               error_kw={"linewidth": 0.8})
        for center in centers[part["reproduced_mean"].isna().to_numpy()]:
            ax.text(center + slot / 4, 0, "n/r", rotation=90, ha="center", va="bottom",
                    fontsize=7, color="dimgray")
    unit = rows["unit"].iloc[0]
    ax.set_xticks(np.arange(len(xs)), [label(k) for k in xs])
    ax.set_ylabel(f"{label(metric)} ({unit})")
    ax.set_title(title)
    if log_y:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    _bar_legend(ax, [label(k) for k in groups])
    save_png(figure, path, dpi)
    return figure


def _bar_legend(ax, group_labels: list[str]) -> None:
    """One colour patch per group, then the two bar styles: paper vs reproduced."""
    handles = [Patch(color=PALETTE[g % len(PALETTE)], label=text)
               for g, text in enumerate(group_labels)]
    handles += [Patch(facecolor="lightgray", hatch="//", edgecolor="gray", label="paper (reported)"),
                Patch(facecolor="dimgray", label="reproduced (mean ± std)")]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def plot_histories(histories_df: pd.DataFrame, dataset: str, metric: str, path: str | Path, *,
                   title: str, labels: Mapping[str, str] | None = None, band: str = "minmax",
                   value_unit: str | None = None, display_unit: str | None = None,
                   figsize: tuple[float, float] = (7.0, 4.5), dpi: int = DPI) -> Figure:
    """``metric`` vs epoch on ``dataset``, one line per method: mean over seeds and a band.

    ``band`` = "minmax" (min to max over seeds) or "std" (mean ± sample std). If
    ``display_unit`` is given, values are converted from ``value_unit`` (e.g. "fraction"
    -> "%"). Rows where the metric is NaN (a method that does not log it) are skipped; a method
    with a single epoch value (K-means) is drawn as a dashed horizontal reference line.
    """
    if band not in ("minmax", "std"):
        raise ValueError(f"band must be 'minmax' or 'std', got {band!r}")
    if metric not in histories_df.columns:
        raise ValueError(f"histories have no metric column {metric!r}; columns: "
                         f"{list(histories_df.columns)}")
    rows = histories_df[(histories_df["dataset"] == dataset) & histories_df[metric].notna()]
    if rows.empty:
        raise ValueError(f"no history rows for dataset {dataset!r} with metric {metric!r}; "
                         f"datasets: {sorted(histories_df['dataset'].unique())}")
    label = (lambda key: (labels or {}).get(key, key))
    figure = _new_figure(figsize)
    ax = figure.add_subplot()
    for m, (method, part) in enumerate(rows.groupby("method", sort=False)):
        values = part[metric].astype(float)
        if display_unit is not None:
            values = pd.Series(convert(values.to_numpy(), value_unit or display_unit,
                                       display_unit), index=part.index)
        stats = values.groupby(part["epoch"]).agg(["mean", "min", "max", "std", "count"])
        color = PALETTE[m % len(PALETTE)]
        seeds = part["seed"].nunique()
        if len(stats) == 1:  # no epochs (e.g. K-means): a dashed reference level
            ax.axhline(stats["mean"].iloc[0], color=color, linestyle="--", linewidth=1,
                       label=f"{label(method)} (n={seeds}, final value)")
            continue
        ax.plot(stats.index, stats["mean"], color=color, marker="o", markersize=3,
                label=f"{label(method)} (n={seeds})")
        low, high = ((stats["min"], stats["max"]) if band == "minmax" else
                     (stats["mean"] - stats["std"].fillna(0), stats["mean"] + stats["std"].fillna(0)))
        if seeds > 1:
            ax.fill_between(stats.index, low, high, color=color, alpha=0.2, linewidth=0)
    unit_text = f" ({display_unit})" if display_unit else ""
    ax.set_xlabel("clustering epoch")
    ax.set_ylabel(f"{label(metric)}{unit_text}")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    band_text = "min-max over seeds" if band == "minmax" else "± std over seeds"
    ax.legend(fontsize=8, title=f"mean, band = {band_text}", title_fontsize=8)
    save_png(figure, path, dpi)
    return figure


def render_table_png(df: pd.DataFrame, path: str | Path, *, title: str,
                     float_format: str = "{:.4g}", max_col_chars: int = 40,
                     dpi: int = DPI) -> Figure:
    """``df`` drawn as a table image; verdict words get a coloured background.

    Floats are shown with ``float_format`` (NaN blank); long texts wrap at ``max_col_chars``.
    For a reader-friendly comparison pass
    :func:`repro.report.writers.comparison_display_frame` (already formatted strings).
    """
    header = [textwrap.fill(str(c), max_col_chars) for c in df.columns]
    body = [[_cell_text(v, float_format, max_col_chars) for v in row]
            for row in df.itertuples(index=False)]
    widths = [max(len(line) for text in [h] + [r[i] for r in body] for line in text.split("\n"))
              for i, h in enumerate(header)]
    lines = [max(text.count("\n") + 1 for text in row) for row in [header] + body]
    height = 0.9 + 0.22 * sum(lines) + 0.08 * len(lines)
    figure = _new_figure((float(np.clip(0.5 + 0.085 * sum(widths), 4, 30)), float(height)))
    ax = figure.add_subplot()
    ax.axis("off")
    ax.set_title(title, fontsize=11, loc="left")
    table = ax.table(cellText=body or None, colLabels=header, loc="upper left",
                     cellLoc="left", colLoc="left", bbox=[0, 0, 1, 1],
                     colWidths=[w / sum(widths) for w in widths])
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for (r, _), cell in table.get_celld().items():
        text = cell.get_text().get_text()
        cell.set_height(lines[r] / sum(lines))
        cell.set_linewidth(0.3)
        if r == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#dde4ee")
        elif text in CELL_COLORS:
            cell.set_facecolor(CELL_COLORS[text])
    save_png(figure, path, dpi)
    return figure


def _cell_text(value, float_format: str, max_chars: int) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else float_format.format(value)
    return textwrap.fill(str(value), max_chars) if str(value) else ""
