"""Number formatting shared by Markdown tables, claim evidence and table images.

Reproduced numbers are shown with as many decimals as the paper prints for that metric
(inferred from the reported values: 54.24 -> 2, 101.3 -> 1), so 89.54 sits next to 87.10.
"""

from __future__ import annotations

import math
from typing import Iterable

import pandas as pd

DEFAULT_DECIMALS = 3
MAX_DECIMALS = 4


def printed_decimals(values: Iterable[float], default: int = DEFAULT_DECIMALS) -> int:
    """Most decimals among ``values`` as Python prints them (54.24 -> 2); ``default`` if none."""
    counts = [_decimals_of(v) for v in values if v is not None and math.isfinite(v)]
    return min(max(counts), MAX_DECIMALS) if counts else default


def _decimals_of(value: float) -> int:
    text = repr(float(value))
    if "e" in text:
        return MAX_DECIMALS
    return len(text.split(".")[1].rstrip("0")) if "." in text else 0


def decimals_by_metric(comparison: pd.DataFrame) -> dict[str, int]:
    """metric -> decimals the paper prints it with (default for metrics it does not report)."""
    return {metric: printed_decimals(group["reported"])
            for metric, group in comparison.groupby("metric", sort=False)}


def fmt(value: float | None, decimals: int, missing: str = "-") -> str:
    """``value`` with ``decimals`` decimals; ``missing`` for None/NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return f"{value:.{decimals}f}"


def fmt_signed(value: float | None, decimals: int, missing: str = "-") -> str:
    """Like :func:`fmt` with an explicit sign (+1.20, -0.35)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return f"{value:+.{decimals}f}"


def fmt_mean_std(mean: float, std: float, n: int, decimals: int, missing: str = "not run",
                 n_seeds: int | None = None) -> str:
    """"87.10 ± 1.20 (3 seeds)"; "41.2 ± 0.8 (1 seed x 5 repeats)" when the values are timing
    repeats (``n_seeds`` given and smaller than ``n``); ``missing`` if not run."""
    if n == 0 or mean is None or math.isnan(mean):
        return missing
    spread = "" if std is None or math.isnan(std) else f" ± {std:.{decimals}f}"
    return f"{mean:.{decimals}f}{spread} ({count_text(n, n_seeds)})"


def count_text(n_values: int, n_seeds: int | None = None) -> str:
    """"2 seeds", "1 seed x 3 repeats": what the values behind a mean are."""
    seeds = n_seeds if n_seeds else n_values
    text = f"{seeds} seed{'s' if seeds != 1 else ''}"
    if n_seeds and n_values > n_seeds:
        per = n_values / n_seeds
        text += f" x {per:g} repeats" if per == int(per) else f", {n_values} values"
    return text


def markdown_table(df: pd.DataFrame) -> str:
    """``df`` (all cells already strings or numbers) as a GitHub-flavoured Markdown table."""
    header = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(_md_cell(c) for c in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_md_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _md_cell(value) -> str:
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")
