"""Does each claim of the paper hold on the reproduced numbers? :func:`evaluate_claims`.

A claim (see :mod:`repro.report.reported`) expands into *comparisons*: one per
(l in left, r in right, l != r, dataset, metric). For each comparison, with mean_x and
std_x the mean and sample std (ddof=1) over seeds of cell x, in the canonical unit:

* the *margin* is  mean_l - mean_r                 for op ">",
                   mean_r - mean_l                 for op "<",
                   tolerance - |mean_l - mean_r|   for op "within" (claim's tolerance);
* the *noise* is   max(std_l, std_r), where the std of a single-seed cell counts as 0
  (one run gives no estimate of seed noise; the evidence then shows "n=1");
* the outcome is   "inconclusive" if either cell has no reproduced number,
                   else "inconclusive" if |margin| <= noise (the decision is within seed
                   noise; with noise 0 this is a tie),
                   else "holds" if margin > 0, else "fails".

A claim's verdict: "fails" if any comparison fails (the claim is "for every ..." and one
counter-example refutes it), else "inconclusive" if any comparison is inconclusive, else
"holds". ``paper_verdict`` applies the same rule to the paper's own printed numbers
(noise 0, a missing printed cell is inconclusive) -- a sanity check of the YAML and of
how the claim was phrased.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from repro.report.reported import Claim, ReportedPaper, reported_in_canonical
from repro.report.results import summarize_results
from repro.report.units import canonical_unit, convert
from repro.report.formatting import fmt, fmt_mean_std, printed_decimals

CLAIM_COLUMNS = ["claim_id", "statement", "verdict", "paper_verdict", "n_holds", "n_fails",
                 "n_inconclusive", "evidence", "paper_evidence"]
OUTCOMES = ("holds", "fails", "inconclusive")


def decide(op: str, left: float, right: float, noise: float, tolerance: float | None = None
           ) -> tuple[str, float]:
    """(outcome, margin) of one comparison; NaN mean -> inconclusive (see module docstring)."""
    if np.isnan(left) or np.isnan(right):
        return "inconclusive", np.nan
    if op == ">":
        margin = left - right
    elif op == "<":
        margin = right - left
    elif op == "within":
        margin = tolerance - abs(left - right)
    else:
        raise ValueError(f"unknown claim op {op!r}")
    if abs(margin) <= noise:
        return "inconclusive", margin
    return ("holds" if margin > 0 else "fails"), margin


def claim_comparisons(reported: ReportedPaper, results_df: pd.DataFrame | None) -> pd.DataFrame:
    """Every comparison of every claim, one row each, with reproduced and paper outcomes.

    Columns: claim_id, dataset, metric, left, op, right, unit (the paper's; all values in
    it), left_mean, left_std, left_n, right_mean, right_std, right_n, outcome, paper_left,
    paper_right, paper_outcome, noise and tolerance (both in the paper's unit).
    """
    stats = _stats_by_cell(results_df)
    rows = []
    for claim in reported.claims:
        for left, right, dataset, metric in _expand(claim):
            rows.append(_comparison_row(reported, claim, stats, left, right, dataset, metric))
    return pd.DataFrame(rows)


def evaluate_claims(reported: ReportedPaper, results_df: pd.DataFrame | None) -> pd.DataFrame:
    """One row per claim: :data:`CLAIM_COLUMNS` (verdicts per the module docstring).

    ``evidence`` lists every comparison ("MNIST-full ACC: GAPDCEC 87.10 ± 1.20 (n=3) >
    DCEC 86.50 ± 0.40 (n=3): holds") joined by "; ". ``paper_evidence`` lists only the
    comparisons that do not hold on the printed numbers (or says that all hold).
    """
    comparisons = claim_comparisons(reported, results_df)
    rows = []
    for claim in reported.claims:
        mine = comparisons[comparisons["claim_id"] == claim.id]
        outcomes = mine["outcome"].tolist()
        rows.append({
            "claim_id": claim.id, "statement": claim.statement,
            "verdict": _aggregate(outcomes), "paper_verdict": _aggregate(mine["paper_outcome"]),
            "n_holds": outcomes.count("holds"), "n_fails": outcomes.count("fails"),
            "n_inconclusive": outcomes.count("inconclusive"),
            "evidence": "; ".join(_evidence(reported, r, paper=False) for r in mine.itertuples()),
            "paper_evidence": _paper_evidence(reported, mine),
        })
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def _aggregate(outcomes) -> str:
    outcomes = list(outcomes)
    if "fails" in outcomes:
        return "fails"
    return "inconclusive" if "inconclusive" in outcomes or not outcomes else "holds"


def _expand(claim: Claim):
    for left in claim.left:
        for right in claim.right:
            if left == right:
                continue
            for dataset in claim.datasets:
                for metric in claim.metrics:
                    yield left, right, dataset, metric


def _stats_by_cell(results_df: pd.DataFrame | None) -> dict[tuple, tuple[float, float, int, str]]:
    if results_df is None or len(results_df) == 0:
        return {}
    summary = summarize_results(results_df)
    return {(r.dataset, r.method, r.metric): (r.mean, r.std, r.n_seeds, r.unit)
            for r in summary.itertuples(index=False)}


def _comparison_row(reported, claim, stats, left, right, dataset, metric) -> dict:
    unit = reported.metric_unit(metric)
    canonical = canonical_unit(unit)
    no_run = (np.nan, np.nan, 0, canonical)
    (l_mean, l_std, l_n, _), (r_mean, r_std, r_n, _) = (
        stats.get((dataset, m, metric), no_run) for m in (left, right))
    noise = max(0.0 if np.isnan(s) else s for s in (l_std, r_std))
    outcome, _ = decide(claim.op, l_mean, r_mean, noise, claim.tolerance)
    paper = [reported.cell(dataset, m, metric) for m in (left, right)]
    paper_canonical = [np.nan if c is None else reported_in_canonical(c) for c in paper]
    paper_outcome, _ = decide(claim.op, *paper_canonical, 0.0, claim.tolerance)
    shown = {name: convert(value, canonical, unit) for name, value in
             (("left_mean", l_mean), ("left_std", l_std), ("right_mean", r_mean),
              ("right_std", r_std))}
    return {"claim_id": claim.id, "dataset": dataset, "metric": metric, "left": left,
            "op": claim.op, "right": right, "unit": unit, **shown, "left_n": l_n,
            "right_n": r_n, "noise": convert(noise, canonical, unit), "outcome": outcome,
            "paper_left": np.nan if paper[0] is None else paper[0].value,
            "paper_right": np.nan if paper[1] is None else paper[1].value,
            "paper_outcome": paper_outcome,
            "tolerance": None if claim.tolerance is None else convert(claim.tolerance, canonical, unit)}


def _evidence(reported: ReportedPaper, row, *, paper: bool) -> str:
    decimals = printed_decimals(c.value for c in reported.cells if c.metric == row.metric)
    label = reported.label
    if paper:
        left, right = (fmt(v, decimals, missing="not printed")
                       for v in (row.paper_left, row.paper_right))
        outcome = row.paper_outcome
    else:
        left = fmt_mean_std(row.left_mean, row.left_std, row.left_n, decimals)
        right = fmt_mean_std(row.right_mean, row.right_std, row.right_n, decimals)
        outcome = row.outcome
    op = row.op if row.op != "within" else f"within {row.tolerance:g} of"
    text = (f"{label(row.dataset)} {label(row.metric)}: {label(row.left)} {left} {op} "
            f"{label(row.right)} {right}: {outcome}")
    if outcome == "inconclusive" and not paper and row.left_n and row.right_n:
        text += f" (within seed noise {row.noise:.{decimals}f})"
    return text


def _paper_evidence(reported: ReportedPaper, comparisons: pd.DataFrame) -> str:
    failing = comparisons[comparisons["paper_outcome"] != "holds"]
    if failing.empty:
        return f"all {len(comparisons)} comparisons hold on the printed numbers"
    return "; ".join(_evidence(reported, r, paper=True) for r in failing.itertuples())
