"""Does each claim of the paper hold on the reproduced numbers? :func:`evaluate_claims`.

A claim (see :mod:`repro.report.reported`) expands into *comparisons*: one per
(l in left, r in right, l != r, dataset, variant, metric). Each comparison is a test
(:func:`repro.report.stats.compare_cells`): an interval for left - right (scores) or left /
right (seconds, megabytes), paired across seeds (and repeats) where both cells share them,
Welch's otherwise, one-sample against a constant; the re-run variance of the difference,
measured on paired re-run data where there is a re-run, is added to its variance.

**Family-wise control.** A claim of m comparisons (those with a test) is judged at level
``alpha`` (the YAML's, default 0.05) for the whole claim:

* a comparison *holds* when its two-sided (1 - alpha) interval lies entirely on the claim's
  side (beyond the claim's margin, or inside its tolerance for "within");
* it *fails* when its two-sided (1 - alpha / m) interval (Bonferroni) lies entirely on the
  other side;
* otherwise it is *inconclusive*.

The claim *holds* when every comparison holds (an intersection-union test: each at level
alpha / 2 one-sided), *fails* when at least one fails (Bonferroni over m), else is
*inconclusive*. With no true difference anywhere, each of the two errors has probability at
most alpha / 2, so a claim is wrongly decided either way with probability at most alpha
(checked by simulation in tests/report/test_stats_calibration.py).

**Validity gates** (:mod:`repro.report.gates`): a comparison resting on a cell that did not
train, or on a stand-in without dynamic range for the claim, is *untestable* and left out
of the verdict (which names it); when every comparison that ran is untestable, so is the claim.
A comparison on a dataset the run did not cover is *not run*, likewise left out and named.

**Pending** (a partial run, :mod:`repro.papers.selection`): a comparison with a side whose
cells the profile plans but the run has not computed yet (none of their seeds, or only some)
is *pending* (column ``pending``; its outcome, where it has none, "pending"); a claim with a
pending comparison is *pending* -- never *fails* for want of cells -- and its ``verdict_shown``
gives the verdict of the comparisons it has as "so far".

**Strength** of a verdict: *decisive* only under the paper profile, on the paper's own data
(no stand-in), with at least the paper's number of runs (the YAML's ``runs``, default 5) on
every comparison; *indicative* otherwise; *untestable* and *not run* as above. The verdict
shown reads "indicative (quick): fails", "decisive: holds", "untestable: ...".

``paper_verdict`` applies the claim to the paper's own printed numbers (no noise: the sign
of each difference; derived metrics computed from the printed cells) -- a sanity check of
the YAML and of how the claim was phrased.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import scipy.stats as _st

from repro.report.derived import paper_values
from repro.report.formatting import count_text, fmt, printed_decimals
from repro.report.reported import Claim, ReportedPaper, parse_side, reported_in_canonical
from repro.report.stats import Test, compare_cells
from repro.report.units import canonical_unit, convert

CLAIM_COLUMNS = ["claim_id", "statement", "basis", "tolerance_source", "profile", "verdict",
                 "strength", "verdict_shown", "paper_verdict", "alpha", "n_holds", "n_fails",
                 "n_inconclusive", "n_untestable", "n_not_run", "evidence", "paper_evidence",
                 "n_pending"]
OUTCOMES = ("holds", "fails", "inconclusive", "untestable", "not run")
# An inconclusive comparison says which true effect it would have shown to hold this often
POWER = 0.8


def claim_comparisons(reported: ReportedPaper, results_df: pd.DataFrame | None, *,
                      rerun: pd.DataFrame | None = None, gates=None,
                      pending=None) -> pd.DataFrame:
    """Every comparison of every claim, one row each (see :func:`evaluate_claims`).

    Columns: claim_id, dataset, variant, metric, left, op, right, unit (the paper's; means,
    stds, estimate and interval in it, a ratio for seconds and megabytes), left_mean,
    left_std, left_n, right_mean, right_std, right_n (values), left_seeds, right_seeds, test (paired t, ...), scale, estimate,
    lo, hi (the 1 - alpha interval), lo_family, hi_family (1 - alpha / m), df, outcome,
    reason, paper_left, paper_right, paper_outcome, tolerance, margin, stand_in, pending.

    ``pending``: the (dataset, method) pairs with cells a partial run has not computed yet.
    """
    cells = _cells(results_df)
    reruns = _cells(rerun, rerun=True)
    paper_derived = paper_values(reported)
    rows = []
    for claim in reported.claims:
        mine = [_comparison(reported, claim, cells, reruns, gates, paper_derived, *where)
                for where in _expand(claim)]
        for row in mine:
            row["pending"] = _waits(row, pending or ())
        # the family: every comparison tested now or once the pending cells are in, so that a
        # verdict reached on a partial run is not loosened by the cells still to come
        m = sum(1 for r in mine if r["_test"] is not None or r["pending"])
        for row in mine:
            _decide(row, claim, reported.alpha, max(m, 1))
            row.pop("_test")
            _mark_pending(row)
        rows += mine
    return pd.DataFrame(rows)


def _waits(row: dict, pending) -> bool:
    """Whether the comparison rests on a cell of ``pending`` ((dataset, method) pairs)."""
    return any(parse_side(side)[2] is None and (row["dataset"], parse_side(side)[0]) in pending
               for side in (row["left"], row["right"]))


def _mark_pending(row: dict) -> None:
    """A comparison resting on a pending cell (``row["pending"]``) with no outcome of its own
    (no number on a side): its outcome is "pending"."""
    if row["pending"] and (row["outcome"] == "not run" or row["reason"] == "one side has no "
                           "reproduced number"):
        row.update(outcome="pending", reason="waiting for cells a partial run has not "
                   "computed yet")


def evaluate_claims(reported: ReportedPaper, results_df: pd.DataFrame | None, *,
                    profile: str = "paper", rerun: pd.DataFrame | None = None, gates=None,
                    comparisons: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per claim: :data:`CLAIM_COLUMNS` (verdicts per the module docstring).

    ``evidence`` lists every comparison with its estimate and interval; ``paper_evidence``
    only the comparisons that do not hold on the printed numbers (or says that all hold).
    """
    if comparisons is None:
        comparisons = claim_comparisons(reported, results_df, rerun=rerun, gates=gates)
    rows = []
    for claim in reported.claims:
        mine = comparisons[comparisons["claim_id"] == claim.id] if len(comparisons) else comparisons
        outcomes = list(mine["outcome"]) if len(mine) else []
        verdict, strength = _aggregate(outcomes, mine, profile, reported.runs)
        shown = shown_verdict(verdict, strength, profile) + _left_out(
            reported, mine, whole=strength == "untestable")
        n_pending = int(mine["pending"].sum()) if len(mine) and "pending" in mine else 0
        if n_pending:
            where = ", ".join(reported.label(d) for d in
                              dict.fromkeys(mine.loc[mine["pending"].astype(bool), "dataset"]))
            shown = (f"pending ({n_pending} of {len(mine)} comparisons wait for cells not yet "
                     f"run on {where})" + ("" if strength == "not run" else f"; so far: {shown}"))
            verdict, strength = "pending", "pending"
        rows.append({
            "claim_id": claim.id, "statement": claim.statement, "basis": claim.basis,
            "tolerance_source": claim.tolerance_source or "", "profile": profile,
            "verdict": verdict, "strength": strength, "n_pending": n_pending,
            "verdict_shown": shown,
            "paper_verdict": _paper_aggregate(list(mine["paper_outcome"]) if len(mine) else []),
            "alpha": reported.alpha,
            **{f"n_{o.replace(' ', '_')}": outcomes.count(o) for o in OUTCOMES},
            "evidence": "; ".join(_evidence(reported, r) for r in mine.itertuples()),
            "paper_evidence": _paper_evidence(reported, mine),
        })
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def dataset_verdicts(reported: ReportedPaper, comparisons: pd.DataFrame, *,
                     profile: str) -> pd.DataFrame:
    """Each claim's verdict on each of its datasets, one row per (claim, dataset) with
    comparisons: claim, dataset, verdict, strength ("pending" while a cell it needs is) and
    shown (the text of :func:`verdicts_by_dataset`). The claim's comparisons on that dataset
    are decided as in the claim (a comparison fails at the claim's family-wise level, holds at
    its level alpha; datasets are not adjusted for each other) and aggregated as a claim is
    (:func:`evaluate_claims`); the text names the comparisons it could not test. A claim that
    waits on a dataset no run here can reach (MNIST-full on this CPU) can still be decisive on
    another."""
    rows = []
    for claim in reported.claims:
        mine = comparisons[comparisons["claim_id"] == claim.id] if len(comparisons) else comparisons
        for dataset in dict.fromkeys(mine["dataset"] if len(mine) else []):
            part = mine[mine["dataset"] == dataset]
            verdict, strength = _aggregate(list(part["outcome"]), part, profile, reported.runs)
            shown = shown_verdict(verdict, strength, profile)
            if strength not in ("untestable", "not run"):
                shown += "".join(f" ({k} of {len(part)} comparisons {o})" for o in
                                 ("untestable", "not run")
                                 if (k := int((part["outcome"] == o).sum())))
            if part["pending"].astype(bool).any():
                shown = (f"pending ({int(part['pending'].sum())} of {len(part)} comparisons)"
                         + ("" if strength == "not run" else f"; so far: {shown}"))
                strength = "pending"
            rows.append({"claim": claim.id, "dataset": dataset, "verdict": verdict,
                         "strength": strength, "shown": shown})
    return pd.DataFrame(rows, columns=["claim", "dataset", "verdict", "strength", "shown"])


def verdicts_by_dataset(reported: ReportedPaper, comparisons: pd.DataFrame, *,
                        profile: str) -> pd.DataFrame:
    """:func:`dataset_verdicts` as a table: rows claims, columns dataset labels (in the order
    the comparisons name them), cells its text ("" where a claim has no comparison there)."""
    if not len(comparisons):
        return pd.DataFrame(columns=["claim"])
    long = dataset_verdicts(reported, comparisons, profile=profile)
    datasets = list(dict.fromkeys(comparisons["dataset"]))
    table = long.pivot(index="claim", columns="dataset", values="shown")
    table = table.reindex(index=[c.id for c in reported.claims], columns=datasets).fillna("")
    return table.rename(columns=reported.label).rename_axis(None, axis=1) \
        .rename_axis("claim").reset_index()


def shown_verdict(verdict: str, strength: str, profile: str) -> str:
    """"indicative (quick): fails", "decisive: holds", "untestable", "not run"."""
    if strength in ("untestable", "not run"):
        return strength
    return f"{strength} ({profile}): {verdict}" if strength == "indicative" else f"{strength}: {verdict}"


def _aggregate(outcomes: list[str], comparisons: pd.DataFrame, profile: str, runs: int
               ) -> tuple[str, str]:
    tested = [o for o in outcomes if o in ("holds", "fails", "inconclusive")]
    if not tested:
        if "untestable" in outcomes:
            return "untestable", "untestable"
        return "not run", "not run"
    verdict = "fails" if "fails" in tested else "holds" if all(o == "holds" for o in tested) \
        else "inconclusive"
    part = comparisons[comparisons["outcome"].isin(["holds", "fails", "inconclusive"])]
    # a constant side has no seeds: the measured side's count decides; a measured side with
    # no reproduced number (0 seeds) leaves the verdict indicative
    seeds = [s for _, row in part.iterrows() for side, s in
             ((row["left"], row["left_seeds"]), (row["right"], row["right_seeds"]))
             if parse_side(side)[2] is None]
    decisive = profile == "paper" and not part["stand_in"].any() and bool(seeds) and \
        min(seeds) >= runs
    return verdict, "decisive" if decisive else "indicative"


def _left_out(reported: ReportedPaper, mine: pd.DataFrame, whole: bool = False) -> str:
    if not len(mine):
        return ""
    if whole:
        reasons = list(dict.fromkeys(mine.loc[mine["outcome"] == "untestable", "reason"]))
        return ": " + "; ".join(reasons)
    ran = set(mine.loc[mine["outcome"].isin(["holds", "fails", "inconclusive"]), "dataset"])
    parts = []
    absent = [d for d in dict.fromkeys(mine.loc[mine["outcome"] == "not run", "dataset"])
              if d not in ran]
    if absent and ran:
        parts.append(f"not run on {', '.join(reported.label(d) for d in absent)}")
    gated = mine[mine["outcome"] == "untestable"]
    if len(gated):
        reasons = list(dict.fromkeys(gated["reason"]))
        where = ", ".join(reported.label(d) for d in dict.fromkeys(gated["dataset"]))
        parts.append(f"untestable on {where} ({reasons[0]}"
                     + (f"; and {len(reasons) - 1} more" if len(reasons) > 1 else "") + ")")
    return "".join(f"; {p}" for p in parts)


def _paper_aggregate(outcomes: list[str]) -> str:
    if not outcomes:
        return "inconclusive"
    if "fails" in outcomes:
        return "fails"
    return "holds" if all(o == "holds" for o in outcomes) else "inconclusive"


def _expand(claim: Claim):
    for left, right in claim.side_pairs():
        for dataset in claim.datasets:
            for variant in claim.variants:
                for metric in claim.metrics:
                    yield left, right, dataset, variant, metric


def _cells(frame: pd.DataFrame | None, *, rerun: bool = False) -> dict:
    """(dataset, method, variant, metric) -> observations indexed by (seed, repeat)."""
    if frame is None or len(frame) == 0:
        return {}
    if rerun:
        frame = frame.copy()
        frame["variant"] = frame["variant"].fillna("").astype(str)
    else:
        from repro.report.results import validate_results

        frame = validate_results(frame)   # fills variant "" and repeat 0 where absent
    out = {}
    columns = ["reference", "rerun"] if rerun else "value"
    for key, part in frame.groupby(["dataset", "method", "variant", "metric"], sort=False):
        values = part.set_index(["seed", "repeat"])[columns]
        unit = part["unit"].iloc[0]
        out[key] = values * float(convert(1.0, unit, canonical_unit(unit))) \
            if unit != canonical_unit(unit) else values
    return out


def _side(cells: dict, side: str, dataset: str, variant: str, metric: str):
    """A side's observations (Series), its constant (float), or None when not reproduced."""
    method, own_variant, constant = parse_side(side)
    if constant is not None:
        return constant
    return cells.get((dataset, method, variant if own_variant is None else own_variant, metric))


def _side_paper(reported: ReportedPaper, derived: dict, side: str, dataset: str, variant: str,
                metric: str) -> tuple[float | None, float]:
    """(printed value or None, value in the canonical unit or NaN) of a claim side."""
    method, own_variant, constant = parse_side(side)
    if constant is not None:
        unit = reported.metric_unit(metric)
        return convert(constant, canonical_unit(unit), unit), constant
    variant = variant if own_variant is None else own_variant
    paper_dataset = reported.paper_dataset(dataset)
    cell = reported.cell(paper_dataset, method, metric, variant)
    if cell is not None:
        return cell.value, reported_in_canonical(cell)
    value = derived.get((paper_dataset, method, variant, metric))
    if value is None:
        return None, np.nan
    unit = reported.metric_unit(metric)
    return convert(value, canonical_unit(unit), unit), value


def _stats(values) -> tuple[float, float, int, int]:
    """(mean, std, number of values, number of seeds) of a side."""
    if values is None:
        return np.nan, np.nan, 0, 0
    if not isinstance(values, pd.Series):
        return float(values), 0.0, 0, 0
    x = values.to_numpy(dtype=float)
    seeds = int(values.index.get_level_values("seed").nunique())
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else np.nan, int(x.size), seeds


def _comparison(reported, claim, cells, reruns, gates, paper_derived, left, right, dataset,
                variant, metric) -> dict:
    unit = reported.metric_unit(metric)
    canonical = canonical_unit(unit)
    lv, rv = (_side(cells, s, dataset, variant, metric) for s in (left, right))
    (l_mean, l_std, l_n, l_seeds), (r_mean, r_std, r_n, r_seeds) = _stats(lv), _stats(rv)
    shown = {name: convert(value, canonical, unit) for name, value in
             (("left_mean", l_mean), ("left_std", l_std), ("right_mean", r_mean),
              ("right_std", r_std))}
    (paper_left, paper_l), (paper_right, paper_r) = (
        _side_paper(reported, paper_derived, s, dataset, variant, metric) for s in (left, right))
    row = {"claim_id": claim.id, "dataset": dataset, "variant": variant, "metric": metric,
           "left": left, "op": claim.op, "right": right, "unit": unit, **shown,
           "left_n": l_n, "right_n": r_n, "left_seeds": l_seeds, "right_seeds": r_seeds,
           "test": "", "scale": "", "estimate": np.nan,
           "lo": np.nan, "hi": np.nan, "lo_family": np.nan, "hi_family": np.nan, "df": np.nan,
           "outcome": "", "reason": "",
           "paper_left": np.nan if paper_left is None else paper_left,
           "paper_right": np.nan if paper_right is None else paper_right,
           "paper_outcome": _decide_exact(claim, paper_l, paper_r, canonical),
           "tolerance": None if claim.tolerance is None else convert(claim.tolerance, canonical, unit),
           "margin": None if claim.margin is None else convert(claim.margin, canonical, unit),
           "stand_in": dataset in reported.stand_ins, "_test": None}
    measured = [v for v, s in ((lv, left), (rv, right)) if parse_side(s)[2] is None]
    if all(v is None for v in measured):
        row.update(outcome="not run", reason="no reproduced number on either side")
        return row
    if any(v is None for v in measured):
        row.update(outcome="inconclusive", reason="one side has no reproduced number")
        return row
    gate = _gate(gates, claim, dataset, variant, metric, (left, right))
    if gate:
        row.update(outcome="untestable", reason=gate)
        return row
    rerun_sides = [None if parse_side(s)[2] is not None else
                   reruns.get((dataset, parse_side(s)[0], parse_side(s)[1] or variant, metric))
                   for s in (left, right)]
    test = compare_cells(lv, rv, unit=canonical, rerun_left=rerun_sides[0],
                         rerun_right=rerun_sides[1],
                         scale="difference" if claim.op == "within" else None)
    row["_test"] = test
    row.update(test=test.kind + (" + re-run" if any(r is not None for r in rerun_sides) else ""),
               scale=test.scale, df=test.df,
               estimate=test.estimate if test.scale == "ratio" else convert(test.estimate, canonical, unit))
    return row


def _gate(gates, claim, dataset, variant, metric, sides) -> str:
    if gates is None:
        return ""
    reason = gates.claim(claim.id, dataset)
    if reason:
        return reason
    for side in sides:
        method, own_variant, constant = parse_side(side)
        if constant is None:
            reason = gates.cell(dataset, method, variant if own_variant is None else own_variant,
                                metric)
            if reason:
                return reason
    return ""


def _target(claim: Claim, scale: str) -> float:
    """The value the estimate must clear (canonical unit; 1 for a ratio)."""
    if scale == "ratio":
        return 1.0
    margin = claim.margin or 0.0
    return margin if claim.op == ">" else -margin


def _decide(row: dict, claim: Claim, alpha: float, m: int) -> None:
    test: Test | None = row["_test"]
    if test is None:
        return
    canonical = canonical_unit(row["unit"])
    (lo, hi), (lo_f, hi_f) = test.interval(1 - alpha), test.interval(1 - alpha / m)
    to_unit = (lambda v: v) if test.scale == "ratio" else (lambda v: convert(v, canonical, row["unit"]))
    row.update(lo=to_unit(lo), hi=to_unit(hi), lo_family=to_unit(lo_f), hi_family=to_unit(hi_f))
    if not np.isfinite(lo) or not np.isfinite(hi):
        row.update(outcome="inconclusive", reason="one run: no estimate of its noise")
        return
    estimate = test.estimate
    if claim.op == "within":
        tol = claim.tolerance
        if lo == hi:
            outcome = "holds" if abs(estimate) <= tol + 1e-9 else "fails"
        else:
            outcome = "holds" if (lo >= -tol - 1e-9 and hi <= tol + 1e-9) else \
                "fails" if (lo_f > tol or hi_f < -tol) else "inconclusive"
    else:
        target = _target(claim, test.scale)
        sign = 1 if claim.op == ">" else -1
        if lo == hi:
            outcome = "holds" if sign * (estimate - target) > 0 else "fails"
        elif claim.op == ">":
            outcome = "holds" if lo > target else "fails" if hi_f < target else "inconclusive"
        else:
            outcome = "holds" if hi < target else "fails" if lo_f > target else "inconclusive"
    reason = ""
    if outcome == "inconclusive":
        wrong_side = (claim.op == ">" and hi < _target(claim, test.scale)) or \
            (claim.op == "<" and lo > _target(claim, test.scale)) or \
            (claim.op == "within" and (lo > claim.tolerance or hi < -claim.tolerance))
        reason = (f"against the claim at {100 * (1 - alpha):g}%, but not at the claim's "
                  f"family-wise level ({100 * (1 - alpha / m):.3g}% interval "
                  f"[{_shown(row, lo_f, test.scale)}, {_shown(row, hi_f, test.scale)}], "
                  f"{m} comparisons)"
                  if wrong_side else "the interval covers the claim's boundary")
        reason += f" -- {_detectable(row, claim, test, alpha)}"   # no "; ": it splits evidence
    row.update(outcome=outcome, reason=reason)


def _detectable(row: dict, claim: Claim, test: Test, alpha: float) -> str:
    """What an inconclusive comparison could have shown with its runs and spread: the
    smallest true effect that its (1 - alpha) interval, this wide, would show to hold with
    probability POWER (the claim's boundary + the half-width + the POWER quantile of t times
    the standard error; on the log scale for a ratio)."""
    lo, hi = test.interval(1 - alpha)
    level = f"{100 * (1 - alpha):g}%"
    seeds = [str(int(row[f"{s}_seeds"])) for s in ("left", "right")
             if s in row and parse_side(row[s])[2] is None]
    runs = f"{test.n} pairs" if test.paired else \
        f"{' and '.join(seeds)} seeds" if seeds else f"{test.n} runs"
    quantile = _st.norm.ppf(POWER) if np.isinf(test.df) else _st.t.ppf(POWER, test.df)
    odds = f"{100 * POWER:g}% of the time"
    if test.scale == "ratio":   # symmetric on the log scale
        reach = float(np.exp(np.log(np.sqrt(hi / lo)) + quantile * test.se))
        need = reach if claim.op == ">" else 1 / reach
        side = "above" if claim.op == ">" else "below"
        return (f"with {runs} and this spread, a true ratio {side} {need:.3g} would have been "
                f"shown to hold {odds} at {level}")
    half = (hi - lo) / 2
    reach = half + quantile * test.se
    if claim.op == "within":
        if reach > claim.tolerance + 1e-9:
            return (f"with {runs} and this spread the {level} interval (half-width "
                    f"{_shown(row, half, test.scale)}) is too wide for the tolerance: even a true "
                    f"difference of 0 would have been shown within it less than {odds}")
        return (f"with {runs} and this spread, a true difference within "
                f"{_shown(row, claim.tolerance - reach, test.scale)} of 0 would have been "
                f"shown to hold {odds} at {level}")
    need = _target(claim, test.scale) + (reach if claim.op == ">" else -reach)
    side = "above" if claim.op == ">" else "below"
    return (f"with {runs} and this spread, a true difference {side} "
            f"{_shown(row, need, test.scale)} would have been shown to hold {odds} at {level}")


def _shown(row: dict, value: float, scale: str) -> str:
    """An interval end in the row's unit (a ratio as it is), for a reason text."""
    if not np.isfinite(value):
        return f"{value}"
    if scale == "ratio":
        return f"{value:.3g}"
    return f"{convert(value, canonical_unit(row['unit']), row['unit']):.4g}"


def _decide_exact(claim: Claim, left: float, right: float, canonical: str) -> str:
    """The claim on printed numbers (no noise): the sign of the difference (or the ratio)."""
    if np.isnan(left) or np.isnan(right):
        return "inconclusive"
    if claim.op == "within":
        return "holds" if abs(left - right) <= claim.tolerance + 1e-12 else "fails"
    diff = left - right if claim.op == ">" else right - left
    if claim.margin:   # "by 0.14-0.19": the printed gain reaches the stated one
        return "holds" if diff >= claim.margin - 1e-9 else "fails"
    return "holds" if diff > 0 else "fails"


def side_label(reported: ReportedPaper, side: str) -> str:
    """"DQN", "DQN (24)" for "dqn@24", "10" for a constant."""
    method, variant, constant = parse_side(side)
    if constant is not None:
        return f"{constant:g}"
    return reported.label(method) + (f" ({variant})" if variant is not None else "")


def _number(value, decimals: int) -> str:
    return fmt(value, decimals, missing="not run")


def _evidence(reported: ReportedPaper, row) -> str:
    """"MNIST-full ACC: IDEC 65.96 vs DEC 68.56 (2 seeds, paired t): -2.61 [95%: -2.80,
    -2.41]; fails"."""
    decimals = printed_decimals(c.value for c in reported.cells if c.metric == row.metric)
    label = reported.label
    op = row.op if row.op != "within" else f"within {row.tolerance:g} of"
    margin = row.margin
    if margin is not None and not (isinstance(margin, float) and np.isnan(margin)):
        op = f"{op} (by > {margin:g})"
    where = f"{label(row.dataset)} {label(row.metric)}" + (f" {row.variant}" if row.variant else "")
    sides = []
    for side, mean, n, seeds in ((row.left, row.left_mean, row.left_n, row.left_seeds),
                                 (row.right, row.right_mean, row.right_n, row.right_seeds)):
        if parse_side(side)[2] is not None:
            sides.append(side_label(reported, side))
        else:
            sides.append(f"{side_label(reported, side)} {_number(mean, decimals)}"
                         + (f" ({count_text(n, seeds)})" if n else ""))
    text = f"{where}: {sides[0]} {op} {sides[1]}"
    if row.test and not (np.isfinite(row.lo) and np.isfinite(row.hi)):
        est = f"ratio {row.estimate:.3g}" if row.scale == "ratio" else \
            f"{'+' if row.estimate >= 0 else ''}{row.estimate:.{decimals + 1}f}"
        text += f": {est}, {row.test}"
    elif row.test:
        level = int(round(100 * (1 - reported.alpha)))
        if row.scale == "ratio":
            est = f"ratio {row.estimate:.3g} [{level}%: {row.lo:.3g}, {row.hi:.3g}]"
        else:
            est = (f"{'+' if row.estimate >= 0 else ''}{row.estimate:.{decimals + 1}f} "
                   f"[{level}%: {row.lo:.{decimals + 1}f}, {row.hi:.{decimals + 1}f}]")
        text += f": {est}, {row.test}"
    text += f": {row.outcome}"
    if row.reason and row.outcome in ("inconclusive", "untestable", "not run", "pending"):
        text += f" ({row.reason})"
    return text


def _paper_evidence(reported: ReportedPaper, comparisons: pd.DataFrame) -> str:
    if not len(comparisons):
        return ""
    failing = comparisons[comparisons["paper_outcome"] != "holds"]
    if failing.empty:
        return f"all {len(comparisons)} comparisons hold on the printed numbers"
    parts = []
    for r in failing.itertuples():
        decimals = printed_decimals(c.value for c in reported.cells if c.metric == r.metric)
        values = [side_label(reported, s) if parse_side(s)[2] is not None else
                  f"{side_label(reported, s)} {fmt(v, decimals, missing='not printed')}"
                  for s, v in ((r.left, r.paper_left), (r.right, r.paper_right))]
        op = r.op if r.op != "within" else f"within {r.tolerance:g} of"
        parts.append(f"{reported.label(r.dataset)} {reported.label(r.metric)}"
                     + (f" {r.variant}" if r.variant else "")
                     + f": {values[0]} {op} {values[1]}: {r.paper_outcome}")
    return "; ".join(parts)

