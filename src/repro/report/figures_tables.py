"""Paper-layout figures from a comparison frame: the Table 1 grid and a metric vs variant.

* :func:`render_paper_grid_png` -- Table 1 as the paper lays it out: one row per method,
  one column per dataset x metric (x variant), each cell "reproduced (paper)" coloured by
  verdict.
* :func:`plot_metric_vs_variant` -- a metric against the paper's extra dimension (PQ code
  length "12".."48", feature layer "conv1".."conv5"), one line per method, the paper's
  values dashed beside the reproduced ones.

Both build on the helpers of :mod:`repro.report.figures` (Agg figure, atomic PNG, table
drawing) and are re-exported from it. A missing ``variant`` column means "" everywhere.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullLocator

from repro.report.figures import (CELL_COLORS, DPI, NOT_RUN, PALETTE, _draw_table, _labeler,
                                  _new_figure, _titled, _variants, _with_variant, save_png)

DEFAULT_GRID_DECIMALS = 1
_GRID_AXES = ("dataset", "metric", "variant")


def render_paper_grid_png(comparison_df: pd.DataFrame, path: str | Path, *, title: str,
                          labels: Mapping[str, str] | None = None,
                          decimals: Mapping[str, int] | None = None,
                          profile: str | None = None, dpi: int = DPI) -> Figure:
    """Table 1 in the paper's layout, drawn like :func:`~repro.report.figures.render_table_png`.

    Rows: methods in order of first appearance (paper order). Columns: "<dataset> <metric>"
    (+ " <variant>" where the frame has variants), datasets outermost, each axis in order of
    first appearance. A cell reads "61.2 ± 1.3 (89.5)" -- reproduced mean (± std only where
    n_seeds > 1), then the paper's number, both in the paper's unit with ``decimals[metric]``
    decimals (default 1) -- or "not run (89.5)"; its background is the verdict's colour
    (:data:`~repro.report.figures.CELL_COLORS`). Cells the paper does not report (``reported``
    NaN) are left out; filter the frame first to choose tables or metrics.
    """
    rows = comparison_df[comparison_df["reported"].notna()]
    if rows.empty:
        raise ValueError("no cell reported by the paper in the comparison frame")
    rows = rows.assign(variant=_variants(rows))
    label = _labeler(labels)
    columns = _grid_columns(rows)
    cells: dict[tuple, object] = {}
    for row in rows.itertuples(index=False):
        cells.setdefault((row.method, (row.dataset, row.metric, row.variant)), row)
    header = ["method"] + [_with_variant(f"{label(d)} {label(m)}", v) for d, m, v in columns]
    body, colors = [], []
    for method in dict.fromkeys(rows["method"]):
        found = [cells.get((method, column)) for column in columns]
        body.append([label(method)] + ["" if r is None else _grid_text(r, decimals)
                                       for r in found])
        colors.append([None] + [None if r is None else CELL_COLORS.get(r.verdict)
                                for r in found])
    heading = _titled(title, profile, int(rows["n_seeds"].max()))
    return _draw_table(header, body, path, title=heading, facecolors=colors, dpi=dpi)


def _grid_columns(rows: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The (dataset, metric, variant) combinations present, ordered axis by axis."""
    order = {axis: list(dict.fromkeys(rows[axis])) for axis in _GRID_AXES}
    present = dict.fromkeys(zip(*(rows[axis] for axis in _GRID_AXES)))
    return sorted(present, key=lambda c: tuple(order[a].index(v) for a, v in zip(_GRID_AXES, c)))


def _grid_text(row, decimals: Mapping[str, int] | None) -> str:
    """"61.2 ± 1.3 (89.5)", "61.2 (89.5)" for one seed, "not run (89.5)"."""
    places = (decimals or {}).get(row.metric, DEFAULT_GRID_DECIMALS)
    paper = f"({row.reported:.{places}f})"
    if math.isnan(row.reproduced_mean):
        return f"{NOT_RUN} {paper}"
    spread = (f" ± {row.reproduced_std:.{places}f}"
              if row.n_seeds > 1 and not math.isnan(row.reproduced_std) else "")
    return f"{row.reproduced_mean:.{places}f}{spread} {paper}"


def plot_metric_vs_variant(comparison_df: pd.DataFrame, metric: str, path: str | Path, *,
                           title: str, dataset: str | None = None,
                           labels: Mapping[str, str] | None = None,
                           variant_label: str = "variant", log_x: bool = False,
                           profile: str | None = None, dpi: int = DPI) -> Figure:
    """``metric`` against the variant, one colour per method, from a comparison frame.

    x: the variants in order of first appearance -- at their numeric values if all are
    numbers ("12", "24", ...; ``log_x`` for a log axis), else evenly spaced categories
    ("conv1".."conv5"). Per method: the reproduced mean (solid, marker "o", ± std error bars
    only where n_seeds > 1) and the paper's values (same colour, dashed, hollow markers).
    Not-run points are left out; a method with no reproduced point is labelled
    "<method> (not run)". A method reported without variant is a horizontal level (solid
    reproduced, dashed paper). ``dataset`` restricts to one dataset; otherwise one subplot
    per dataset, side by side.
    """
    rows = comparison_df[comparison_df["metric"] == metric]
    if dataset is not None:
        rows = rows[rows["dataset"] == dataset]
    where = f" on dataset {dataset!r}" if dataset is not None else ""
    if rows.empty:
        raise ValueError(f"no rows for metric {metric!r}{where}; metrics: "
                         f"{sorted(comparison_df['metric'].unique())}")
    rows = rows.assign(variant=_variants(rows))
    variants = [v for v in dict.fromkeys(rows["variant"]) if v]
    if not variants:
        raise ValueError(f"no variants for metric {metric!r}{where} (column 'variant' empty)")
    positions, numeric = _variant_positions(variants)
    if log_x and not numeric:
        raise ValueError(f"log_x needs numeric variants, got {variants}")
    label, datasets = _labeler(labels), list(dict.fromkeys(rows["dataset"]))
    figure = _new_figure((2.5 + 4.5 * len(datasets), 4.5))
    axes = figure.subplots(1, len(datasets), squeeze=False)[0]
    heading = _titled(title, profile, int(rows["n_seeds"].max()))
    for ax, name in zip(axes, datasets):
        _variant_panel(ax, rows[rows["dataset"] == name], positions, label)
        _variant_axis(ax, variants, positions, log_x, variant_label)
        ax.set_title(heading if len(datasets) == 1 else label(name))
    axes[0].set_ylabel(f"{label(metric)} ({rows['unit'].iloc[0]})")
    if len(datasets) > 1:
        figure.suptitle(heading)
    save_png(figure, path, dpi)
    return figure


def _variant_positions(variants: list[str]) -> tuple[dict[str, float], bool]:
    """variant -> x: its value if every variant is a finite number, else 0, 1, 2, ..."""
    try:
        values = [float(v) for v in variants]
    except ValueError:
        values = []
    if values and all(math.isfinite(v) for v in values):
        return dict(zip(variants, values)), True
    return {v: float(i) for i, v in enumerate(variants)}, False


def _variant_panel(ax, rows: pd.DataFrame, positions: dict[str, float], label) -> None:
    """One dataset: each method's lines, then a legend of methods and the two line styles."""
    for m, method in enumerate(dict.fromkeys(rows["method"])):
        part = rows[rows["method"] == method].drop_duplicates("variant")
        color, name = PALETTE[m % len(PALETTE)], label(method)
        if (part["variant"] != "").any():
            _variant_lines(ax, part[part["variant"] != ""], positions, color, name)
        else:
            _variant_level(ax, part.iloc[0], color, name)
    spread = ((rows["n_seeds"] > 1) & rows["reproduced_mean"].notna()).any()
    styles = [Line2D([], [], color="gray", marker="o",
                     label="reproduced (mean ± std over seeds)" if spread else "reproduced (n=1)"),
              Line2D([], [], color="gray", marker="o", markerfacecolor="none", linestyle="--",
                     label="paper (reported)")]
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + styles, fontsize=8)


def _variant_lines(ax, part: pd.DataFrame, positions: dict[str, float], color: str,
                   name: str) -> None:
    """A method's reproduced line (+ error bars where n > 1) and its paper line."""
    x = part["variant"].map(positions).to_numpy(float)
    order = np.argsort(x, kind="stable")
    x, part = x[order], part.iloc[order]
    mean, std = part["reproduced_mean"].to_numpy(float), part["reproduced_std"].to_numpy(float)
    reported, ran = part["reported"].to_numpy(float), ~np.isnan(mean)
    ax.plot(x[ran], mean[ran], color=color, marker="o", linestyle="-",
            label=name if ran.any() else f"{name} ({NOT_RUN})")
    spread = ran & (part["n_seeds"].to_numpy() > 1) & ~np.isnan(std)
    if spread.any():
        ax.errorbar(x[spread], mean[spread], yerr=std[spread], fmt="none", ecolor=color,
                    elinewidth=0.8, capsize=3)
    paper = ~np.isnan(reported)
    ax.plot(x[paper], reported[paper], color=color, marker="o", markerfacecolor="none",
            linestyle="--", label=f"_{name} (paper)")


def _variant_level(ax, row, color: str, name: str) -> None:
    """A method without variants: horizontal reproduced (solid) and paper (dashed) levels."""
    ran = not math.isnan(row["reproduced_mean"])
    if ran:
        ax.axhline(row["reproduced_mean"], color=color, linewidth=1, label=name)
    else:
        ax.plot([], [], color=color, marker="o", label=f"{name} ({NOT_RUN})")
    if not math.isnan(row["reported"]):
        ax.axhline(row["reported"], color=color, linewidth=1, linestyle="--",
                   label=f"_{name} (paper)")


def _variant_axis(ax, variants: list[str], positions: dict[str, float], log_x: bool,
                  variant_label: str) -> None:
    if log_x:
        ax.set_xscale("log")
    ax.set_xticks([positions[v] for v in variants], variants)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(variant_label)
    ax.grid(alpha=0.3)
