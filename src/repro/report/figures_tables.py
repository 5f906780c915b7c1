"""Tables as PNG, legible at 100 %: any DataFrame, and Table 1 in the paper's layout.

* :func:`render_table_png` -- any DataFrame as a table image.
* :func:`render_paper_grid_png` -- Table 1 as the paper lays it out: one row per method,
  one column per dataset x metric (x variant), each cell "reproduced (paper)" coloured by
  verdict.

Every column is as wide as its widest text, measured with the renderer at the table's font
size (nothing is cut off or overlaps); long headers wrap to the width of their column's
cells. A table wider than :data:`MAX_WIDTH_IN` is drawn as several blocks one under the
other, each repeating the first (row label) column, broken between datasets where it can
be. Re-exported from :mod:`repro.report.figures`; shared helpers come from
:mod:`repro.report.figure_base` (this module does not import :mod:`repro.report.figures`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from repro.report.figure_base import (CELL_COLORS, DPI, fit_title, labeler, missing_text,
                                      new_figure, save_png, text_width_in, titled, variants,
                                      with_variant, wrap)
from repro.report.units import UnitError, canonical_unit, convert

DEFAULT_GRID_DECIMALS = 1
_GRID_AXES = ("dataset", "metric", "variant")
FONT_SIZE = 8.0
TITLE_SIZE = 11.0
MAX_WIDTH_IN = 16.0          # 1600 px at 100 dpi: wider tables are drawn in blocks
CELL_PAD_IN = 0.07           # space left and right of a cell's text
LINE_IN = 0.17               # one text line at FONT_SIZE
ROW_PAD_IN = 0.09            # space above and below a row's text
MIN_HEADER_CHARS = 18


def render_table_png(df: pd.DataFrame, path: str | Path, *, title: str,
                     float_format: str = "{:.4g}", max_col_chars: int = 40,
                     dpi: int = DPI) -> Figure:
    """``df`` drawn as a table image; verdict words get a coloured background.

    Floats are shown with ``float_format`` (NaN blank); long texts wrap at ``max_col_chars``.
    For a reader-friendly comparison pass
    :func:`repro.report.writers.comparison_display_frame` (already formatted strings).
    """
    header = [wrap(str(c), max_col_chars) for c in df.columns]
    body = [[_cell_text(v, float_format, max_col_chars) for v in row]
            for row in df.itertuples(index=False)]
    colors = [[CELL_COLORS.get(text) for text in row] for row in body]
    return draw_table(header, body, path, title=title, facecolors=colors, dpi=dpi)


def draw_table(header: list[str], body: list[list[str]], path: str | Path, *, title: str,
               facecolors: list[list[str | None]] | None = None,
               groups: Sequence | None = None, max_width_in: float = MAX_WIDTH_IN,
               dpi: int = DPI) -> Figure:
    """A table image (bold shaded header row) of already formatted cell texts.

    Column widths follow the widest line (measured), row heights the line count; a header
    longer than its column's cells wraps. ``facecolors[r][c]`` (or None) colours body cell
    (r, c). Wider than ``max_width_in``: several blocks, each with column 0 repeated,
    broken where ``groups`` (one key per column after the first) changes when possible.
    Saved to ``path``; returns the Figure (axes[0] holds the first block and the title).
    """
    header = _wrapped_header(header, body)
    widths = [_column_width(i, header, body) for i in range(len(header))]
    blocks = _blocks(widths, groups or list(range(1, len(header))), max_width_in)
    heights = [[_row_height(row, cols) for row in [header] + body] for cols in blocks]
    block_w = [sum(widths[c] for c in cols) for cols in blocks]
    fig_w = max(block_w) + 0.4
    heading = fit_title(title, fig_w - 0.3, TITLE_SIZE)
    title_h = 0.25 + 0.2 * heading.count("\n") + 0.1
    gap = 0.25
    fig_h = title_h + sum(sum(h) for h in heights) + gap * (len(blocks) - 1) + 0.2
    figure = new_figure((fig_w, fig_h))
    figure.set_layout_engine(None)          # cells placed in inches, not by constrained layout
    top = fig_h - title_h
    for b, cols in enumerate(blocks):
        block_h = sum(heights[b])
        ax = figure.add_axes([0.2 / fig_w, (top - block_h) / fig_h, block_w[b] / fig_w,
                              block_h / fig_h])
        ax.axis("off")
        if b == 0:
            ax.set_title(heading, fontsize=TITLE_SIZE, loc="left", pad=8)
        _block_table(ax, cols, header, body, facecolors, widths, heights[b])
        top -= block_h + gap
    save_png(figure, path, dpi)
    return figure


def _wrapped_header(header: list[str], body: list[list[str]]) -> list[str]:
    """Each header wrapped to its column's widest cell (at least MIN_HEADER_CHARS)."""
    out = []
    for i, text in enumerate(header):
        cells = [line for row in body for line in row[i].split("\n")]
        chars = max([MIN_HEADER_CHARS] + [len(line) for line in cells])
        out.append(wrap(text, chars) if len(text) > chars else text)
    return out


def _column_width(i: int, header: list[str], body: list[list[str]]) -> float:
    widest = max([text_width_in(header[i], FONT_SIZE, "bold")]
                 + [text_width_in(row[i], FONT_SIZE) for row in body])
    return widest + 2 * CELL_PAD_IN + 0.02


def _row_height(row: list[str], cols: list[int]) -> float:
    return LINE_IN * max(row[c].count("\n") + 1 for c in cols) + 2 * ROW_PAD_IN


def _blocks(widths: list[float], groups: Sequence, max_width_in: float) -> list[list[int]]:
    """Column indices of each block: column 0, then columns 1.. as many as fit; a block
    ends where the group changes if the next group does not fit whole."""
    first, blocks, current = widths[0], [], []
    used = first
    columns = list(range(1, len(widths)))
    for pos, c in enumerate(columns):
        if current and used + widths[c] > max_width_in:
            blocks.append(current)
            current, used = [], first
        elif current and groups[pos] != groups[pos - 1]:
            rest = [d for q, d in enumerate(columns) if q >= pos and groups[q] == groups[pos]]
            group_w = sum(widths[d] for d in rest)
            if used + group_w > max_width_in and first + group_w <= max_width_in:
                blocks.append(current)
                current, used = [], first
        current.append(c)
        used += widths[c]
    if current or not blocks:
        blocks.append(current)
    return [[0] + cols for cols in blocks]


def _block_table(ax, cols: list[int], header, body, facecolors, widths, heights) -> None:
    total = sum(widths[c] for c in cols)
    text = [[row[c] for c in cols] for row in body]
    table = ax.table(cellText=text or None, colLabels=[header[c] for c in cols],
                     loc="upper left", cellLoc="left", colLoc="left", bbox=[0, 0, 1, 1],
                     colWidths=[widths[c] / total for c in cols])
    table.auto_set_font_size(False)
    table.set_fontsize(FONT_SIZE)
    block_h = sum(heights)
    for (r, j), cell in table.get_celld().items():
        cell.set_height(heights[r] / block_h)
        cell.set_linewidth(0.3)
        cell.PAD = CELL_PAD_IN / widths[cols[j]]      # padding in inches, not a fraction
        if r == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#dde4ee")
        elif facecolors is not None and facecolors[r - 1][cols[j]]:
            cell.set_facecolor(facecolors[r - 1][cols[j]])


def _cell_text(value, float_format: str, max_chars: int) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else float_format.format(value)
    return wrap(str(value), max_chars) if str(value) else ""


def render_paper_grid_png(comparison_df: pd.DataFrame, path: str | Path, *, title: str,
                          labels: Mapping[str, str] | None = None,
                          decimals: Mapping[str, int] | None = None,
                          profile: str | None = None, dpi: int = DPI) -> Figure:
    """Table 1 in the paper's layout, drawn like :func:`render_table_png`.

    Rows: methods in order of first appearance (paper order). Columns: "<dataset> <metric>"
    (+ " <variant>" where the frame has variants), datasets outermost, each axis in order of
    first appearance. A cell reads "61.2 ± 1.3 (89.5)" -- reproduced mean (± std only where
    n_seeds > 1), then the paper's number, both in the paper's unit with ``decimals[metric]``
    decimals (default 1) -- or "not run (89.5)" ("pending (89.5)" for a cell a partial run
    has not computed yet); its background is the verdict's colour
    (:data:`~repro.report.figure_base.CELL_COLORS`). Cells the paper does not report
    (``reported`` NaN) are left out; filter the frame first to choose tables or metrics. A
    wide grid is drawn in blocks of whole datasets, each repeating the method column.
    """
    rows = comparison_df[comparison_df["reported"].notna()]
    if rows.empty:
        raise ValueError("no cell reported by the paper in the comparison frame")
    rows = rows.assign(variant=variants(rows))
    label = labeler(labels)
    columns = _grid_columns(rows)
    cells: dict[tuple, object] = {}
    for row in rows.itertuples(index=False):
        cells.setdefault((row.method, (row.dataset, row.metric, row.variant)), row)
    header = ["method"] + [with_variant(f"{label(d)} {label(m)}", v) for d, m, v in columns]
    body, colors = [], []
    for method in dict.fromkeys(rows["method"]):
        found = [cells.get((method, column)) for column in columns]
        body.append([label(method)] + ["" if r is None else _grid_text(r, decimals)
                                       for r in found])
        colors.append([None] + [None if r is None else CELL_COLORS.get(r.verdict)
                                for r in found])
    heading = titled(title, profile, int(rows["n_seeds"].max()))
    return draw_table(header, body, path, title=heading, facecolors=colors,
                      groups=[d for d, _, _ in columns], dpi=dpi)


def _grid_columns(rows: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The (dataset, metric, variant) combinations present, ordered axis by axis."""
    order = {axis: list(dict.fromkeys(rows[axis])) for axis in _GRID_AXES}
    present = dict.fromkeys(zip(*(rows[axis] for axis in _GRID_AXES)))
    return sorted(present, key=lambda c: tuple(order[a].index(v) for a, v in zip(_GRID_AXES, c)))


def _grid_text(row, decimals: Mapping[str, int] | None) -> str:
    """"61.2 ± 1.3 (89.5)", "61.2 (89.5)" for one seed, "not run (89.5)" / "pending (89.5)"."""
    places = (decimals or {}).get(row.metric, DEFAULT_GRID_DECIMALS)
    paper = f"({row.reported:.{places}f})"
    if math.isnan(row.reproduced_mean):
        return f"{missing_text(getattr(row, 'verdict', None))} {paper}"
    readable = _readable_cost(row, places)
    if readable:
        return f"{readable} ({row.reported:.{places}f} {row.unit})"
    spread = (f" ± {row.reproduced_std:.{places}f}"
              if row.n_seeds > 1 and not math.isnan(row.reproduced_std) else "")
    return f"{row.reproduced_mean:.{places}f}{spread} {paper}"


def _readable_cost(row, places: int) -> str:
    """A time or memory too small to read in the paper's unit at ``places`` decimals (our
    seconds as 0.00 h, our MB as 0 GB) in a unit that fits it: "54.4 ± 1.0 s"; "" if the
    paper's unit reads fine or the unit is no time or memory."""
    unit = getattr(row, "unit", None)
    mean = row.reproduced_mean
    if not isinstance(unit, str) or mean == 0 or abs(mean) >= 10.0 ** (1 - places):
        return ""
    try:
        base = canonical_unit(unit)
    except UnitError:
        return ""
    if base not in ("s", "MB"):
        return ""
    value = float(convert(mean, unit, base))
    target = (("s" if abs(value) < 120 else "min" if abs(value) < 7200 else "h") if base == "s"
              else ("MB" if abs(value) < 1024 else "GB"))
    value = float(convert(mean, unit, target))
    std = row.reproduced_std
    spread = (f" ± {float(convert(std, unit, target)):.2g}"
              if row.n_seeds > 1 and not math.isnan(std) else "")
    return f"{value:.3g}{spread} {target}"
