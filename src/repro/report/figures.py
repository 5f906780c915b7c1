"""Figures as PNG: reported vs reproduced bars, per-epoch histories, metric vs variant.

Figures are drawn on a bare ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot,
no global backend switch, so a notebook's inline display keeps working) and written
atomically. Each function returns the Figure, so a notebook can also show it. Pixel size =
``figsize`` x ``dpi`` exactly (constrained layout, no tight bbox cropping). Every method
has one colour in every figure (:func:`repro.report.palette.method_color`); the paper's
number and ours differ by hatch / alpha (bars) or line style (lines), never by hue.

* :func:`plot_reported_vs_reproduced` -- grouped bars, the paper's number (light, hatched)
  beside the reproduced mean (solid, ± std error bar where n > 1): GAPDCEC Fig. 2/3
  ("Datasets vs ACC/NMI"); with ``own_axes`` the paper's numbers and ours on separate
  panels, each with its own unit (times and memory measured on other hardware: PQDEC
  Fig. 3/4, UCNN Table II).
* :func:`plot_histories` -- a metric vs clustering epoch, one line per method (mean over
  seeds, band = min-max or ± std): GAPDCEC Fig. 4-9.
* :func:`plot_metric_vs_variant` -- a metric against a variant (code length, feature layer).
* :func:`~repro.report.figures_tables.render_table_png` and
  :func:`~repro.report.figures_tables.render_paper_grid_png` (Table 1 in the paper's
  layout) -- tables as images, re-exported here.

Frames may carry a ``variant`` column (the paper's extra dimension, e.g. "12" bits or
"conv3"); missing or NaN means "" (no variant). A method's rows with different variants are
drawn as separate bars/lines labelled "<method> <variant>", in shades of the method's colour.
``profile`` (where accepted) appends "  [<profile> profile, n=<seeds> seeds]" to the title.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullLocator
from matplotlib.transforms import blended_transform_factory

from repro.report.figure_base import (CELL_COLORS, DPI, NOT_RUN, PENDING, labeler,  # noqa: F401
                                      missing_text, new_figure, save_png, titled,
                                      with_variant, wrap)
from repro.report.figure_base import variants as variant_texts
from repro.report.figures_tables import (render_paper_grid_png,  # noqa: F401 (re-exported)
                                         render_table_png)
from repro.report.palette import PAPER_ALPHA, PAPER_HATCH, method_color, variant_shades
from repro.report.units import convert

_new_figure = new_figure          # the names other modules used before figure_base
TICK_CHARS = 18                   # x tick labels wrap at this many characters


def _key_colors(keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(method, variant) -> colour: the method's colour, in shades where it has several
    variants among ``keys``."""
    by_method: dict[str, list[str]] = {}
    for method, variant in keys:
        by_method.setdefault(method, []).append(variant)
    out = {}
    for method, names in by_method.items():
        for variant, color in zip(names, variant_shades(method_color(method), len(names))):
            out[(method, variant)] = color
    return out


def _metric_rows(comparison_df: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = comparison_df[comparison_df["metric"] == metric]
    if rows.empty:
        raise ValueError(f"no rows for metric {metric!r}; metrics: "
                         f"{sorted(comparison_df['metric'].unique())}")
    return rows.assign(variant=variant_texts(rows))


def _has_positive(rows, kind: str) -> bool:
    """Whether a bar row of ``kind`` ("paper", "ours", "both") has a value a log axis can show."""
    columns = {"paper": ["reported"], "ours": ["reproduced_mean"],
               "both": ["reported", "reproduced_mean"]}[kind]
    values = rows[columns].to_numpy(dtype=float)
    return bool((np.nan_to_num(values, nan=0.0) > 0).any())


def plot_reported_vs_reproduced(comparison_df: pd.DataFrame, metric: str, path: str | Path, *,
                                title: str, x: str = "dataset",
                                labels: Mapping[str, str] | None = None, log_y: bool = False,
                                profile: str | None = None, own_axes: bool = False,
                                reproduced_unit: str | None = None,
                                figsize: tuple[float, float] | None = None, dpi: int = DPI
                                ) -> Figure:
    """Bars of ``metric`` from a :func:`~repro.report.compare.compare` frame, coloured by
    method (:func:`~repro.report.palette.method_color`).

    ``x="dataset"``: datasets on the x axis, one bar group per method (a method's variants
    are separate groups, in shades of its colour). ``x="method"``: one panel per dataset,
    methods on the x axis. Per method: the reported number (light, hatched) and the
    reproduced mean (solid) with a ± std error bar only where n_seeds > 1. A cell not run
    shows a grey "not run" ("pending" where a partial run has not computed it yet) at the
    bottom of the axis (also on a log axis); a category where nothing ran gets " (not run)"
    (" (pending)") on its tick. Values are in the paper's unit (the ``unit``
    column) unless ``own_axes``: then the paper's numbers and the reproduced ones are drawn
    on separate panels (paper above, ours below), each with its own y axis and unit --
    ours in ``reproduced_unit`` (default: the paper's) -- for numbers measured on other
    hardware or under another protocol (seconds, memory). Filter the frame to plot a subset.
    """
    if x not in ("dataset", "method"):
        raise ValueError(f"x must be 'dataset' or 'method', got {x!r}")
    rows = _metric_rows(comparison_df, metric)
    unit = rows["unit"].iloc[0]
    ours_unit = reproduced_unit or unit
    if own_axes and ours_unit != unit:
        rows = rows.assign(reproduced_mean=convert(rows["reproduced_mean"].to_numpy(float), unit,
                                                   ours_unit),
                           reproduced_std=convert(rows["reproduced_std"].to_numpy(float), unit,
                                                  ours_unit))
    label = labeler(labels)
    panels = ([(None, rows)] if x == "dataset" else
              [(d, rows[rows["dataset"] == d]) for d in dict.fromkeys(rows["dataset"])])
    kinds = ("paper", "ours") if own_axes else ("both",)
    cells = [_bar_cells(part, x) for _, part in panels]
    n_bars = max(len(xs) * len(groups) for _, xs, groups in cells)
    width = (float(np.clip(2.5 + 0.45 * n_bars * (0.6 if own_axes else 1.0), 6, 16))
             if x == "dataset" else float(np.clip(1.5 + (2.0 + 0.5 * n_bars) * len(panels),
                                                  6, 18)))
    figure = new_figure(figsize or (width, 7.0 if own_axes else 4.8))
    axes = figure.subplots(len(kinds), len(panels), squeeze=False,
                           sharex="col", sharey="row" if x == "method" else False)
    colors = _key_colors(list(dict.fromkeys(zip(rows["method"], rows["variant"]))))
    heading = titled(title, profile, int(rows["n_seeds"].max()))
    for j, ((dataset, _), (coded, xs, groups)) in enumerate(zip(panels, cells)):
        for i, kind in enumerate(kinds):
            ax = axes[i, j]
            _bar_panel(ax, coded, xs, groups, colors, kind)
            ax.set_xticks(np.arange(len(xs)), _tick_labels(coded, xs, label, kind,
                                                           TICK_CHARS if x == "dataset" else 60))
            if x == "method":           # method names side by side: slanted, not overlapping
                ax.tick_params(axis="x", labelrotation=30)
                for tick in ax.get_xticklabels():
                    tick.set(ha="right", rotation_mode="anchor")
            if log_y and _has_positive(rows, kind):   # a row with nothing run stays linear
                ax.set_yscale("log")
            ax.grid(axis="y", alpha=0.3)
            if j == 0:
                ax.set_ylabel(_bar_ylabel(label(metric), unit, ours_unit, kind))
            if dataset is not None and i == 0:
                ax.set_title(label(dataset))
    if len(kinds) == 1 and len(panels) == 1:
        axes[0, 0].set_title(heading)
    else:
        figure.suptitle(heading)
    spread = bool(((rows["n_seeds"] > 1) & rows["reproduced_mean"].notna()).any())
    _bar_legend(axes[0, -1], rows, colors, label, spread, own_axes)
    save_png(figure, path, dpi)
    return figure


def _bar_ylabel(metric: str, unit: str, ours_unit: str, kind: str) -> str:
    if kind == "paper":
        return f"the paper:\n{wrap(f'{metric} ({unit})', 26)}"
    if kind == "ours":
        return f"reproduced:\n{wrap(f'{metric} ({ours_unit})', 26)}"
    return f"{metric} ({unit})"


def _bar_cells(rows: pd.DataFrame, x: str) -> tuple[pd.DataFrame, list, list]:
    """``rows`` with integer codes ``_x``/``_g`` (first appearance) of the x category and the
    bar group, each a (key, variant) pair (the variant goes with the method); first row of a
    duplicated cell kept. ``x="method"``: the methods are the categories, one group. Returns
    (rows, x keys, group keys)."""
    method_keys = list(zip(rows["method"], rows["variant"]))
    if x == "dataset":
        x_keys, group_keys = [(d, "") for d in rows["dataset"]], method_keys
    else:
        x_keys, group_keys = method_keys, [("", "")] * len(rows)
    xs, groups = list(dict.fromkeys(x_keys)), list(dict.fromkeys(group_keys))
    coded = rows.assign(_x=[xs.index(k) for k in x_keys], _g=[groups.index(k) for k in group_keys])
    return coded.drop_duplicates(["_x", "_g"]), xs, groups


def _tick_labels(rows: pd.DataFrame, xs: list, label, kind: str = "both",
                 chars: int = TICK_CHARS) -> list[str]:
    """Each x category's label (wrapped), + " (not run)" where none of its cells has a
    number (" (pending)" where they all wait for a partial run; not on the paper's panel)."""
    missing = rows["reproduced_mean"].isna()
    not_run = missing.groupby(rows["_x"]).all()
    pending = (_verdicts(rows) == PENDING).groupby(rows["_x"]).all()
    return [wrap(with_variant(label(key), variant)
                 + (f" ({PENDING if pending[i] else NOT_RUN})"
                    if not_run[i] and kind != "paper" else ""), chars)
            for i, (key, variant) in enumerate(xs)]


def _verdicts(rows: pd.DataFrame) -> pd.Series:
    """The rows' verdicts (none: a frame without the column)."""
    return rows["verdict"] if "verdict" in rows else pd.Series(None, index=rows.index, dtype=object)


def _bar_panel(ax, rows: pd.DataFrame, xs: list, groups: list, colors: dict, kind: str) -> None:
    """Every group's bars on one axis: paper and/or reproduced (``kind``)."""
    slot = 0.8 / len(groups)
    for g in range(len(groups)):
        part = rows[rows["_g"] == g]
        centers = part["_x"].to_numpy() - 0.4 + slot * (g + 0.5)
        bar_colors = [colors[(m, v)] for m, v in zip(part["method"], part["variant"])]
        _draw_bar_group(ax, part, centers, slot, bar_colors, kind)


def _draw_bar_group(ax, part: pd.DataFrame, centers: np.ndarray, slot: float,
                    colors: list[str], kind: str = "both") -> None:
    """One group's paper and reproduced bars (side by side for ``kind="both"``, one full-width
    bar otherwise), error bars where n > 1, "not run" markers."""
    mean, std = part["reproduced_mean"].to_numpy(float), part["reproduced_std"].to_numpy(float)
    width = slot / 2 if kind == "both" else slot * 0.8
    paper_at = centers - slot / 4 if kind == "both" else centers
    ours_at = centers + slot / 4 if kind == "both" else centers
    if kind in ("both", "paper"):
        reported = part["reported"].to_numpy(float)
        ax.bar(paper_at, reported, width, color=colors, alpha=PAPER_ALPHA, hatch=PAPER_HATCH,
               edgecolor=colors, linewidth=0.8)
        if kind == "paper":
            _markers(ax, paper_at[np.isnan(reported)], "not in the paper")
    if kind == "paper":
        return
    ax.bar(ours_at, mean, width, color=colors)
    spread = (part["n_seeds"].to_numpy() > 1) & ~np.isnan(mean) & ~np.isnan(std)
    if spread.any():
        ax.errorbar(ours_at[spread], mean[spread], yerr=std[spread], fmt="none",
                    ecolor="black", elinewidth=0.8, capsize=2)
    for center, verdict in zip(ours_at[np.isnan(mean)], _verdicts(part)[np.isnan(mean)]):
        _markers(ax, [center], missing_text(verdict))


def _markers(ax, xs: np.ndarray, text: str) -> None:
    bottom = blended_transform_factory(ax.transData, ax.transAxes)  # x: data, y: axes fraction
    for center in xs:
        ax.text(center, 0.02, text, transform=bottom, rotation=90, ha="center",
                va="bottom", fontsize=8, color="dimgray")


def _bar_legend(ax, rows: pd.DataFrame, colors: dict, label, spread: bool,
                own_axes: bool) -> None:
    """One colour patch per method (and variant), then the two bar styles."""
    handles = [Patch(color=color, label=with_variant(label(method), variant))
               for (method, variant), color in colors.items()]
    reproduced = "reproduced (mean ± std over seeds)" if spread else "reproduced (n=1)"
    where = (": upper panel", ": lower panel") if own_axes else ("", "")
    handles += [Patch(facecolor="white", hatch=PAPER_HATCH, edgecolor="black",
                      label=f"paper (reported){where[0]}"),
                Patch(facecolor="black", label=f"{reproduced}{where[1]}")]
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
    label = labeler(labels)
    figure = new_figure(figsize)
    ax = figure.add_subplot()
    curve_seeds, all_seeds = [], []
    keys = list(rows.groupby(["method", "_variant"], sort=False).groups)
    colors = _key_colors(keys)
    for (method, variant), part in rows.groupby(["method", "_variant"], sort=False):
        color, seeds = colors[(method, variant)], part["seed"].nunique()
        name = with_variant(label(method), variant)
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
    ax.set_title(titled(title, profile, rows["seed"].nunique()))
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
    return rows.assign(_value=values, _variant=variant_texts(rows),
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


def plot_metric_vs_variant(comparison_df: pd.DataFrame, metric: str, path: str | Path, *,
                           title: str, dataset: str | None = None,
                           labels: Mapping[str, str] | None = None,
                           variant_label: str = "variant", log_x: bool = False,
                           profile: str | None = None, dpi: int = DPI) -> Figure:
    """``metric`` against the variant, one colour per method, from a comparison frame.

    x: the variants in order of first appearance -- at their numeric values if all are
    numbers ("12", "24", ...; ``log_x`` for a log axis), else evenly spaced categories
    ("conv1".."conv5"). Per method, in its colour: the reproduced mean (solid, marker "o",
    ± std error bars only where n_seeds > 1) and the paper's values (same colour, dashed,
    hollow markers).
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
    rows = rows.assign(variant=variant_texts(rows))
    variants = [v for v in dict.fromkeys(rows["variant"]) if v]
    if not variants:
        raise ValueError(f"no variants for metric {metric!r}{where} (column 'variant' empty)")
    positions, numeric = _variant_positions(variants)
    if log_x and not numeric:
        raise ValueError(f"log_x needs numeric variants, got {variants}")
    label, datasets = labeler(labels), list(dict.fromkeys(rows["dataset"]))
    figure = new_figure((2.5 + 4.5 * len(datasets), 4.5))
    axes = figure.subplots(1, len(datasets), squeeze=False)[0]
    heading = titled(title, profile, int(rows["n_seeds"].max()))
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
    for method in dict.fromkeys(rows["method"]):
        part = rows[rows["method"] == method].drop_duplicates("variant")
        color, name = method_color(method), label(method)
        if (part["variant"] != "").any():
            _variant_lines(ax, part[part["variant"] != ""], positions, color, name)
        else:
            _variant_level(ax, part.iloc[0], color, name)
    spread = ((rows["n_seeds"] > 1) & rows["reproduced_mean"].notna()).any()
    styles = [Line2D([], [], color="black", marker="o",
                     label="reproduced (mean ± std over seeds)" if spread else "reproduced (n=1)"),
              Line2D([], [], color="black", marker="o", markerfacecolor="none", linestyle="--",
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
            label=name if ran.any() else
            f"{name} ({PENDING if (_verdicts(part) == PENDING).all() else NOT_RUN})")
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
        ax.plot([], [], color=color, marker="o",
                label=f"{name} ({missing_text(row.get('verdict'))})")
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
