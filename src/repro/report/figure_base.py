"""What every figure module shares: the Agg canvas, the atomic PNG write, labels, variants,
text measurement. Imported by :mod:`repro.report.figures` (plots) and
:mod:`repro.report.figures_tables` (tables), which do not import each other."""

from __future__ import annotations

import io
import textwrap
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from repro.report.atomic import write_bytes_atomic

DPI = 100
CELL_COLORS = {"within": "#d9f2d9", "holds": "#d9f2d9", "deviates": "#f8d7d7",
               "fails": "#f8d7d7", "inconclusive": "#fff2cc", "not run": "#eeeeee",
               "not comparable": "#eeeeee", "pending": "#e3ecf7"}
NOT_RUN = "not run"
PENDING = "pending"


def missing_text(verdict) -> str:
    """What a cell without a reproduced number says: "pending" where a partial run's plan
    has it (its verdict), else "not run" (data absent, or not in the plan)."""
    return PENDING if verdict == PENDING else NOT_RUN


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A bare Figure on the Agg canvas, constrained layout (no pyplot, no global state)."""
    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Render ``figure`` to PNG bytes and write them to ``path`` atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return write_bytes_atomic(path, buffer.getvalue())


def labeler(labels: Mapping[str, str] | None) -> Callable[[str], str]:
    return lambda key: (labels or {}).get(key, key)


def variants(df: pd.DataFrame) -> pd.Series:
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


def with_variant(name: str, variant: str) -> str:
    return f"{name} {variant}" if variant else name


def titled(title: str, profile: str | None, seeds: int) -> str:
    """``title`` + "  [<profile> profile, n=<seeds> seeds]" when ``profile`` is given."""
    return f"{title}  [{profile} profile, n={seeds} seeds]" if profile else title


@lru_cache(maxsize=4096)
def text_width_in(text: str, size: float = 8.0, weight: str = "normal") -> float:
    """Width in inches of the widest line of ``text`` drawn at ``size`` points (measured by
    the Agg renderer, so a table column or a figure can be sized from its text)."""
    renderer = _renderer()
    prop = FontProperties(size=size, weight=weight)
    widths = [renderer.get_text_width_height_descent(line, prop, ismath=False)[0]
              for line in str(text).split("\n")]
    return max(widths or [0.0]) / 72.0      # the renderer runs at 72 dpi: points -> inches


@lru_cache(maxsize=1)
def _renderer() -> RendererAgg:
    return RendererAgg(1, 1, 72)


def wrap(text: str, width: int) -> str:
    """``text`` wrapped at ``width`` characters (words kept whole where they fit; an existing
    line break kept)."""
    return "\n".join(textwrap.fill(line, width, break_long_words=True) or line
                     for line in str(text).split("\n"))


def fit_title(text: str, width_in: float, size: float = 11.0) -> str:
    """``text`` wrapped so that it fits ``width_in`` inches at ``size`` points."""
    if text_width_in(text, size) <= width_in:
        return text
    chars = max(20, int(len(text) * width_in / text_width_in(text, size)) - 2)
    return wrap(text, chars)
