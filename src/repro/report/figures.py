"""Figures as PNG: reported vs reproduced bars, per-epoch histories, rendered tables.

Figures are drawn on a bare ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot,
no global backend switch, so a notebook's inline display keeps working) and written
atomically. Each function returns the Figure, so a notebook can also show it. Pixel size =
``figsize`` x ``dpi`` exactly (constrained layout, no tight bbox cropping).

* :func:`plot_reported_vs_reproduced` -- grouped bars, the paper's number (light, hatched)
  beside the reproduced mean (solid, ± std error bar where n > 1): GAPDCEC Fig. 2/3
  ("Datasets vs ACC/NMI"), PQDEC Fig. 3/4 (speed/memory vs method: ``x="method"``).
* :func:`plot_histories` -- a metric vs clustering epoch, one line per method (mean over
  seeds, band = min-max or ± std): GAPDCEC Fig. 4-9.
* :func:`render_table_png` -- any DataFrame as a table image.
* :func:`~repro.report.figures_tables.render_paper_grid_png` -- Table 1 in the paper's
  layout (methods x datasets/metrics), and
  :func:`~repro.report.figures_tables.plot_metric_vs_variant` -- a metric against a
  variant (code length, feature layer); both re-exported here.

Frames may carry a ``variant`` column (the paper's extra dimension, e.g. "12" bits or
"conv3"); missing or NaN means "" (no variant). A method's rows with different variants are
drawn as separate bars/lines labelled "<method> <variant>". ``profile`` (where accepted)
appends "  [<profile> profile, n=<seeds> seeds]" to the title.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

from repro.report.atomic import write_bytes_atomic
from repro.report.units import convert

DPI = 100
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
CELL_COLORS = {"within": "#d9f2d9", "holds": "#d9f2d9", "deviates": "#f8d7d7",
               "fails": "#f8d7d7", "inconclusive": "#fff2cc", "not run": "#eeeeee",
               "not comparable": "#eeeeee"}
NOT_RUN = "not run"


def _new_figure(figsize: tuple[float, float]) -> Figure:
    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Render ``figure`` to PNG bytes and write them to ``path`` atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return write_bytes_atomic(path, buffer.getvalue())


def _labeler(labels: Mapping[str, str] | None) -> Callable[[str], str]:
    return lambda key: (labels or {}).get(key, key)


def _variants(df: pd.DataFrame) -> pd.Series:
    """``df``'s ``variant`` column as strings: "" where missing/NaN, 12.0 -> "12"."""
    if "variant" not in df.columns:
        return pd.Series("", index=df.index, dtype=object)

    def text(value) -> str:
        if not isinstance(value, str) and pd.isna(value):  # None, NaN, pd.NA
            return ""
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        return str(value)
    return df["variant"].map(text).astype(object)


def _with_variant(name: str, variant: str) -> str:
    return f"{name} {variant}" if variant else name


def _titled(title: str, profile: str | None, seeds: int) -> str:
    """``title`` + "  [<profile> profile, n=<seeds> seeds]" when ``profile`` is given."""
    return f"{title}  [{profile} profile, n={seeds} seeds]" if profile else title


def _metric_rows(comparison_df: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = comparison_df[comparison_df["metric"] == metric]
    if rows.empty:
        raise ValueError(f"no rows for metric {metric!r}; metrics: "
                         f"{sorted(comparison_df['metric'].unique())}")
    return rows.assign(variant=_variants(rows))


def plot_reported_vs_reproduced(comparison_df: pd.DataFrame, metric: str, path: str | Path, *,
                                title: str, x: str = "dataset",
                                labels: Mapping[str, str] | None = None, log_y: bool = False,
                                profile: str | None = None,
                                figsize: tuple[float, float] | None = None, dpi: int = DPI
                                ) -> Figure:
    """Grouped bars of ``metric`` from a :func:`~repro.report.compare.compare` frame.

    ``x`` ("dataset" or "method") picks the x-axis categories; the other key forms the bar
    groups (one colour each); a method's variants are separate categories/groups. Per group:
    the reported number (light, hatched) and the reproduced mean (solid) with a ± std error
    bar only where n_seeds > 1. A cell not run shows a grey "not run" at the bottom of the
    axis (also on a log axis); a category where nothing ran gets " (not run)" on its tick.
    Values are in the paper's unit (the ``unit`` column). Filter the frame to plot a subset.
    """
    if x not in ("dataset", "method"):
        raise ValueError(f"x must be 'dataset' or 'method', got {x!r}")
    rows, xs, groups = _bar_cells(_metric_rows(comparison_df, metric), x)
    label = _labeler(labels)
    slot = 0.8 / len(groups)
    figure = _new_figure(figsize or (float(np.clip(2.5 + 0.45 * len(xs) * len(groups), 6, 16)), 4.8))
    ax = figure.add_subplot()
    for g in range(len(groups)):
        part = rows[rows["_g"] == g]
        centers = part["_x"].to_numpy() - 0.4 + slot * (g + 0.5)
        _draw_bar_group(ax, part, centers, slot, PALETTE[g % len(PALETTE)])
    ax.set_xticks(np.arange(len(xs)), _tick_labels(rows, xs, label))
    ax.set_ylabel(f"{label(metric)} ({rows['unit'].iloc[0]})")
    ax.set_title(_titled(title, profile, int(rows["n_seeds"].max())))
    if log_y:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    spread = ((rows["n_seeds"] > 1) & rows["reproduced_mean"].notna()).any()
    _bar_legend(ax, [_with_variant(label(k), v) for k, v in groups], bool(spread))
    save_png(figure, path, dpi)
    return figure


def _bar_cells(rows: pd.DataFrame, x: str) -> tuple[pd.DataFrame, list, list]:
    """``rows`` with integer codes ``_x``/``_g`` (first appearance) of the x category and the
    bar group, each a (key, variant) pair (the variant goes with the method); first row of a
    duplicated cell kept. Returns (rows, x keys, group keys)."""
    method_keys = list(zip(rows["method"], rows["variant"]))
    dataset_keys = [(d, "") for d in rows["dataset"]]
    x_keys, group_keys = ((dataset_keys, method_keys) if x == "dataset" else
                          (method_keys, dataset_keys))
    xs, groups = list(dict.fromkeys(x_keys)), list(dict.fromkeys(group_keys))
    coded = rows.assign(_x=[xs.index(k) for k in x_keys], _g=[groups.index(k) for k in group_keys])
    return coded.drop_duplicates(["_x", "_g"]), xs, groups


def _tick_labels(rows: pd.DataFrame, xs: list, label) -> list[str]:
    """Each x category's label, + " (not run)" where none of its cells has a number."""
    not_run = rows["reproduced_mean"].isna().groupby(rows["_x"]).all()
    return [_with_variant(label(key), variant) + (f" ({NOT_RUN})" if not_run[i] else "")
            for i, (key, variant) in enumerate(xs)]


def _draw_bar_group(ax, part: pd.DataFrame, centers: np.ndarray, slot: float, color: str) -> None:
    """One group's paper and reproduced bars, error bars where n > 1, "not run" markers."""
    mean, std = part["reproduced_mean"].to_numpy(float), part["reproduced_std"].to_numpy(float)
    ax.bar(centers - slot / 4, part["reported"], slot / 2, color=color, alpha=0.35,
           hatch="//", edgecolor=color, linewidth=0.8)
    ax.bar(centers + slot / 4, mean, slot / 2, color=color)
    spread = (part["n_seeds"].to_numpy() > 1) & ~np.isnan(mean) & ~np.isnan(std)
    if spread.any():
        ax.errorbar(centers[spread] + slot / 4, mean[spread], yerr=std[spread], fmt="none",
                    ecolor="black", elinewidth=0.8, capsize=2)
    bottom = blended_transform_factory(ax.transData, ax.transAxes)  # x: data, y: axes fraction
    for center in centers[np.isnan(mean)]:
        ax.text(center + slot / 4, 0.02, NOT_RUN, transform=bottom, rotation=90, ha="center",
                va="bottom", fontsize=8, color="dimgray")


def _bar_legend(ax, group_labels: list[str], spread: bool) -> None:
    """One colour patch per group, then the two bar styles: paper vs reproduced."""
    handles = [Patch(color=PALETTE[g % len(PALETTE)], label=text)
               for g, text in enumerate(group_labels)]
    reproduced = "reproduced (mean ± std over seeds)" if spread else "reproduced (n=1)"
    handles += [Patch(facecolor="lightgray", hatch="//", edgecolor="gray", label="paper (reported)"),
                Patch(facecolor="dimgray", label=reproduced)]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def plot_histories(histories_df: pd.DataFrame, dataset: str, metric: str, path: str | Path, *,
                   title: str, labels: Mapping[str, str] | None = None, band: str = "minmax",
                   value_unit: str | None = None, display_unit: str | None = None,
                   profile: str | None = None,
                   figsize: tuple[float, float] = (7.0, 4.5), dpi: int = DPI) -> Figure:
    """``metric`` vs epoch on ``dataset``, one line per method: mean over seeds and a band.

    ``band`` = "minmax" (min to max over seeds) or "std" (mean ± sample std), drawn for
    methods with more than one seed. If ``display_unit`` is given, values are converted from
    ``value_unit`` (e.g. "fraction" -> "%"). Rows where the metric is NaN (a method that does
    not log it) are skipped. A method without epochs (NaN, as K-means writes) or with a single
    epoch value is a dashed horizontal reference line at its final value, mean over seeds.
    """
    if band not in ("minmax", "std"):
        raise ValueError(f"band must be 'minmax' or 'std', got {band!r}")
    rows = _history_rows(histories_df, dataset, metric, value_unit, display_unit)
    label = _labeler(labels)
    figure = _new_figure(figsize)
    ax = figure.add_subplot()
    curve_seeds, all_seeds = [], []
    for m, ((method, variant), part) in enumerate(rows.groupby(["method", "_variant"], sort=False)):
        color, seeds = PALETTE[m % len(PALETTE)], part["seed"].nunique()
        name = _with_variant(label(method), variant)
        all_seeds.append(seeds)
        if part["epoch"].dropna().nunique() <= 1:  # no epochs (K-means): a reference level
            ax.axhline(_final_level(part), color=color, linestyle="--", linewidth=1,
                       label=f"{name} (n={seeds}, final value)")
        else:
            _plot_curve(ax, part, color, band, f"{name} (n={seeds})", seeds)
            curve_seeds.append(seeds)
    unit_text = f" ({display_unit})" if display_unit else ""
    ax.set_xlabel("clustering epoch")
    ax.set_ylabel(f"{label(metric)}{unit_text}")
    ax.set_title(_titled(title, profile, rows["seed"].nunique()))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title=_history_legend_title(band, curve_seeds, all_seeds),
              title_fontsize=8)
    save_png(figure, path, dpi)
    return figure


def _history_rows(histories_df: pd.DataFrame, dataset: str, metric: str,
                  value_unit: str | None, display_unit: str | None) -> pd.DataFrame:
    """The dataset's rows with the metric, plus ``_value`` (display unit) and ``_variant``."""
    if metric not in histories_df.columns:
        raise ValueError(f"histories have no metric column {metric!r}; columns: "
                         f"{list(histories_df.columns)}")
    rows = histories_df[(histories_df["dataset"] == dataset) & histories_df[metric].notna()]
    if rows.empty:
        raise ValueError(f"no history rows for dataset {dataset!r} with metric {metric!r}; "
                         f"datasets: {sorted(histories_df['dataset'].unique())}")
    values = rows[metric].to_numpy(float)
    if display_unit is not None:
        values = convert(values, value_unit or display_unit, display_unit)
    return rows.assign(_value=values, _variant=_variants(rows),
                       epoch=pd.to_numeric(rows["epoch"], errors="coerce"))


def _final_level(part: pd.DataFrame) -> float:
    """Mean over seeds of each seed's last value (by iteration)."""
    ordered = part.sort_values("iteration", kind="stable")
    return float(ordered.groupby("seed")["_value"].last().mean())


def _plot_curve(ax, part: pd.DataFrame, color: str, band: str, label: str, seeds: int) -> None:
    stats = part.groupby("epoch")["_value"].agg(["mean", "min", "max", "std"])
    ax.plot(stats.index, stats["mean"], color=color, marker="o", markersize=3, label=label)
    if seeds > 1:
        std = stats["std"].fillna(0)
        low, high = ((stats["min"], stats["max"]) if band == "minmax" else
                     (stats["mean"] - std, stats["mean"] + std))
        ax.fill_between(stats.index, low, high, color=color, alpha=0.2, linewidth=0)


def _history_legend_title(band: str, curve_seeds: list[int], all_seeds: list[int]) -> str:
    if any(n > 1 for n in curve_seeds):
        return "mean, band = " + ("min-max over seeds" if band == "minmax" else "± std over seeds")
    return "mean over seeds" if any(n > 1 for n in all_seeds) else "single seed"


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
    colors = [[CELL_COLORS.get(text) for text in row] for row in body]
    return _draw_table(header, body, path, title=title, facecolors=colors, dpi=dpi)


def _draw_table(header: list[str], body: list[list[str]], path: str | Path, *, title: str,
                facecolors: list[list[str | None]] | None = None, dpi: int = DPI) -> Figure:
    """A table image (bold shaded header row) of already formatted cell texts; column
    widths follow the longest line, row heights the line count. ``facecolors[r][c]`` (or
    None) colours body cell (r, c). Saved to ``path``; returns the Figure."""
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
    for (r, c), cell in table.get_celld().items():
        cell.set_height(lines[r] / sum(lines))
        cell.set_linewidth(0.3)
        if r == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#dde4ee")
        elif facecolors is not None and facecolors[r - 1][c]:
            cell.set_facecolor(facecolors[r - 1][c])
    save_png(figure, path, dpi)
    return figure


def _cell_text(value, float_format: str, max_chars: int) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else float_format.format(value)
    return textwrap.fill(str(value), max_chars) if str(value) else ""


# The Table 1 grid and the metric-vs-variant figure live in figures_tables, which builds on
# the helpers above; re-exported so every figure can be imported from here.
from repro.report.figures_tables import (plot_metric_vs_variant,  # noqa: E402,F401
                                         render_paper_grid_png)
