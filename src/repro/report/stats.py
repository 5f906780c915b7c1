"""The test behind every comparison of a claim: an interval for the difference (or the ratio).

One comparison sets a *left* cell against a *right* cell (or a constant) on one dataset,
variant and metric. Each cell is a set of observations keyed by (seed, repeat), in the
metric's canonical unit. :func:`compare_cells` returns a :class:`Test`:

* **Scale.** Scores (fractions, counts, "x" ratios) are compared as a difference left - right.
  Seconds and megabytes are compared as a ratio left / right, on the log scale (the interval
  of the mean log ratio, exponentiated), so "2.6x faster" is judged the same way on a fast and
  a slow machine; a cell with a value <= 0 falls back to the difference.
* **Pairing.** When the two cells were measured on the same (seed, repeat) keys -- the same
  seeds share the split, the pretrained network and the k-means start -- the test is paired:
  a one-sample t interval of the per-key differences. When they share the seeds but not the
  repeats, the repeats are averaged per seed first and the seeds are paired. Otherwise (or
  against a constant) it is Welch's unpaired t interval (one-sample against a constant).
* **Re-run noise.** Where a re-run of the same report (same code and seeds; on another CPU or
  another thread count) measured the same cells, the re-run variance of the *difference* is
  estimated from the paired re-run data: for each key shared by both runs,
  delta = (left' - right') - (left - right), and var_rerun = mean(delta^2) / 2 (each run's
  difference carries half of it), with as many degrees of freedom as keys. It is added to
  the sampling variance of the mean difference (var_rerun / n). The degrees of freedom stay
  those of the seeds (Welch-Satterthwaite, never more): re-run data widen an interval, never
  narrow it. Unpaired, each cell gets its own re-run variance.
* **One run** (n = 1 on a side with no constant) gives no estimate of its own noise: the
  interval is infinite and the comparison cannot be decided. Identical values (zero variance
  and no re-run noise) give a zero-width interval at the estimate.

``level`` is the two-sided confidence level of the interval; :mod:`repro.report.claims`
chooses it (the claim's family-wise control).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

RATIO_UNITS = ("s", "MB")


@dataclass(frozen=True)
class Test:
    """An interval for left - right (``scale`` "difference") or left / right ("ratio")."""

    estimate: float
    se: float          # standard error of the estimate on its working scale (log for ratio)
    df: float          # degrees of freedom of the t quantile (inf: known variance; 0: none)
    n: int             # observations behind the estimate (pairs, or the smaller side)
    paired: bool
    scale: str         # "difference" | "ratio"
    kind: str          # "paired t" | "Welch t" | "one-sample t" | "no noise estimate"

    def interval(self, level: float) -> tuple[float, float]:
        """Two-sided ``level`` interval on the natural scale (a ratio interval for "ratio")."""
        centre = np.log(self.estimate) if self.scale == "ratio" else self.estimate
        if not np.isfinite(centre):
            return (np.nan, np.nan)
        if self.df <= 0 or not np.isfinite(self.se):
            half = np.inf
        elif self.se == 0:
            half = 0.0
        else:
            q = _st.norm.ppf(0.5 + level / 2) if np.isinf(self.df) else \
                _st.t.ppf(0.5 + level / 2, self.df)
            half = q * self.se
        lo, hi = centre - half, centre + half
        return (float(np.exp(lo)), float(np.exp(hi))) if self.scale == "ratio" else \
            (float(lo), float(hi))


def scale_of(canonical_unit: str) -> str:
    return "ratio" if canonical_unit in RATIO_UNITS else "difference"


def _by_seed(values: pd.Series) -> pd.Series:
    return values.groupby(level="seed").mean()


def _same_keys(a: pd.Series, b: pd.Series) -> bool:
    return len(a) == len(b) and set(a.index) == set(b.index)


def _welch_df(parts: list[tuple[float, float]]) -> float:
    """Welch-Satterthwaite df of a sum of variance terms (value, df)."""
    total = sum(v for v, _ in parts)
    if total == 0:
        return np.inf
    denom = sum((v * v) / d for v, d in parts if v > 0 and np.isfinite(d) and d > 0)
    if any(v > 0 and d <= 0 for v, d in parts):
        return 0.0
    return float(total * total / denom) if denom > 0 else np.inf


def _rerun_var(delta: np.ndarray) -> tuple[float, float]:
    """(variance of one run's value, df) from differences between a run and its re-run."""
    if delta.size == 0:
        return 0.0, np.inf
    return float(np.mean(delta ** 2) / 2), float(delta.size)


def compare_cells(left: pd.Series | float, right: pd.Series | float, *, unit: str,
                  rerun_left: pd.DataFrame | None = None, rerun_right: pd.DataFrame | None = None,
                  scale: str | None = None) -> Test:
    """The interval behind one comparison; see the module docstring.

    ``left`` / ``right``: a cell's observations (a Series indexed by (seed, repeat), canonical
    unit) or a constant. ``rerun_*``: the same cell in a report and in its re-run (a frame
    indexed by (seed, repeat) with columns ``reference`` and ``rerun``), or None.
    ``scale``: force "difference" (a "within" claim); default: by the unit.
    """
    scale = scale or scale_of(unit)
    sides = [left, right]
    constant = [not isinstance(s, pd.Series) for s in sides]
    if all(constant):
        raise ValueError("a comparison needs at least one measured cell")
    values = [np.asarray(s, dtype=float) for s in sides if isinstance(s, pd.Series)] + \
        [np.array([float(s)]) for s, c in zip(sides, constant) if c]
    if scale == "ratio" and any((v <= 0).any() for v in values):
        scale = "difference"
    f = np.log if scale == "ratio" else (lambda x: x)
    back = (lambda x: float(np.exp(x))) if scale == "ratio" else float

    def tr(x):
        if x is None:
            return None
        if isinstance(x, pd.DataFrame):
            return x[["reference", "rerun"]].astype(float).apply(f)
        if isinstance(x, pd.Series):
            return x.astype(float).apply(f)
        return float(f(float(x)))

    L, R, rl, rr = tr(left), tr(right), tr(rerun_left), tr(rerun_right)

    if not any(constant):
        by_seed = None
        if _same_keys(L, R) and len(L) >= 2:
            by_seed = False
        elif _same_keys(_by_seed(L), _by_seed(R)) and _by_seed(L).size >= 2:
            by_seed = True
        if by_seed is not None:
            pl, pr = (_by_seed(L), _by_seed(R)) if by_seed else (L, R)
            d = (pl - pr.reindex(pl.index)).to_numpy()
            n = d.size
            parts = [(float(np.var(d, ddof=1)) / n, n - 1)]
            seed_df = float(n - 1)
            if rl is not None and rr is not None:
                diff = rl - rr.reindex(rl.index)
                if by_seed:
                    diff = diff.groupby(level="seed").mean()
                delta = (diff["rerun"] - diff["reference"]).dropna().to_numpy()
                if delta.size:
                    v, df = _rerun_var(delta)
                    parts.append((v / n, df))
            se2 = sum(v for v, _ in parts)
            return Test(back(d.mean()), float(np.sqrt(se2)), min(seed_df, _welch_df(parts)), n,
                        True, scale, "paired t")
    # unpaired (Welch) or one-sample against a constant
    parts, seed_parts, means, ns = [], [], [], []
    for side, re in ((L, rl), (R, rr)):
        if not isinstance(side, pd.Series):
            means.append(side)
            continue
        x = side.to_numpy()
        means.append(float(x.mean()))
        ns.append(x.size)
        if x.size < 2:
            parts.append((np.inf, 0.0))
            continue
        parts.append((float(np.var(x, ddof=1)) / x.size, x.size - 1))
        seed_parts.append(parts[-1])
        if re is not None:
            delta = (re["rerun"] - re["reference"]).dropna().to_numpy()
            if delta.size:
                v, df = _rerun_var(delta)
                parts.append((v / x.size, df))
    estimate = back(means[0] - means[1])
    if any(not np.isfinite(v) for v, _ in parts):
        return Test(estimate, np.inf, 0.0, min(ns), False, scale, "no noise estimate")
    se2 = sum(v for v, _ in parts)
    kind = "one-sample t" if any(constant) else "Welch t"
    df = min(_welch_df(seed_parts), _welch_df(parts))
    return Test(estimate, float(np.sqrt(se2)), df, min(ns), False, scale, kind)


def mean_minus(mean: float, std: float, n: int, reference: float, rerun_delta=None) -> Test:
    """The interval of a cell's mean - ``reference`` from its summary (mean, sample std, n
    values), with the cell's re-run variance where ``rerun_delta`` (re-run - run, per seed)
    is given; n < 2 gives no noise estimate."""
    if n < 2 or not np.isfinite(std):
        return Test(mean - reference, np.inf, 0.0, n, False, "difference", "no noise estimate")
    parts = [(std * std / n, n - 1)]
    if rerun_delta is not None and len(rerun_delta):
        v, df = _rerun_var(np.asarray(rerun_delta, dtype=float))
        parts.append((v / n, df))
    return Test(mean - reference, float(np.sqrt(sum(v for v, _ in parts))),
                min(float(n - 1), _welch_df(parts)), n, False, "difference", "one-sample t")
