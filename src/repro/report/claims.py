"""Does each claim of the paper hold on the reproduced numbers? :func:`evaluate_claims`.

A claim (see :mod:`repro.report.reported`) expands into *comparisons*: one per
(l in left, r in right, l != r, dataset, variant, metric). For each comparison, with mean_x
and std_x the mean and sample std (ddof=1) over the values of cell x (seeds, and repeats of a
timing), all in the canonical unit:

* the *margin* is  mean_l - mean_r - claim margin  for op ">" (claim margin: 0 unless the
                                                   claim sets one: "by more than 3 points"),
                   mean_r - mean_l - claim margin  for op "<",
                   tolerance - |mean_l - mean_r|   for op "within" (claim's tolerance);
* the *noise floor* is the largest of
    - the seed (or repeat) std of either cell (a single value counts 0: one run gives no
      estimate of its own noise),
    - the *minimum effect* of the metric (ours, not the paper's): :data:`MIN_EFFECT` by the
      metric's dimension -- 1 point for scores (ACC, NMI, mAP, top-1), 10% of the smaller
      mean for seconds and megabytes -- unless the paper's YAML sets ``min_effect``,
    - the *re-run spread* of either cell when one was measured (the largest difference of the
      same cell, same seed and code, between two machines; see
      :func:`repro.report.rerun.read_rerun_spread`): a difference a re-run elsewhere can
      produce is not evidence;
* the outcome is   "inconclusive" if either cell has no reproduced number,
                   "inconclusive" if a timing cell (seconds) has fewer than
                   :data:`MIN_TIMINGS` values (repeats x seeds): one timing has no spread,
                   "inconclusive" if |margin| <= noise floor,
                   else "holds" if margin > 0, else "fails".

A comparison on a dataset the run did not cover (neither side has a reproduced number:
the data are absent, or the profile leaves the dataset out) is "not run": it is listed, and
left out of the verdict as long as some comparison ran; ``verdict_shown`` then names the
datasets the verdict was reached without ("holds under quick: ...; not run on CIFAR-10").
A claim's verdict: "fails" if any comparison fails (the claim is "for every ..." and one
counter-example refutes it), else "inconclusive" if any comparison is inconclusive, else
"holds". A side may be a cell of another variant ("dqn@24") or a constant (a number: its
std is 0 and it counts as enough timings). On a stand-in dataset (the YAML's ``stand_ins``)
the paper's numbers are those of the dataset it stands in for. ``paper_verdict`` applies the same test to the paper's own printed numbers (noise
floor 0, a missing printed cell is inconclusive) -- a sanity check of the YAML and of how the
claim was phrased.

Every verdict carries the protocol it was reached under: ``profile`` and ``protocol`` (the
budget that differed from the paper's, e.g. "CAE pretraining epochs 1-5 of 200"), joined in
``verdict_shown`` ("fails under quick: ..."), which claims.md prints. ``basis`` says whether
the paper states the claim in words ("text") or we read the ordering off its table ("table").
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from repro.report.reported import Claim, ReportedPaper, parse_side, reported_in_canonical
from repro.report.results import summarize_results
from repro.report.units import canonical_unit, convert
from repro.report.formatting import fmt, fmt_mean_std, printed_decimals

CLAIM_COLUMNS = ["claim_id", "statement", "basis", "tolerance_source", "profile", "verdict", "verdict_shown",
                 "protocol", "paper_verdict", "n_holds", "n_fails", "n_inconclusive", "evidence",
                 "paper_evidence"]
OUTCOMES = ("holds", "fails", "inconclusive", "not run")
# The smallest difference a comparison may decide on, by the metric's canonical unit (ours):
# ("absolute", x) in that unit, or ("relative", r) = r x the smaller of the two means.
MIN_EFFECT = {"fraction": ("absolute", 0.01), "s": ("relative", 0.10), "MB": ("relative", 0.10),
              "x": ("relative", 0.10)}
MIN_TIMINGS = 3  # values (seeds x repeats) a timing cell needs before a comparison decides


def decide(op: str, left: float, right: float, noise: float, tolerance: float | None = None,
           by: float | None = None) -> tuple[str, float]:
    """(outcome, margin) of one comparison; NaN mean -> inconclusive (see module docstring).
    ``by``: the claim's own margin for ">" / "<" (0 if None)."""
    if np.isnan(left) or np.isnan(right):
        return "inconclusive", np.nan
    if op == ">":
        margin = left - right - (by or 0.0)
    elif op == "<":
        margin = right - left - (by or 0.0)
    elif op == "within":
        margin = tolerance - abs(left - right)
    else:
        raise ValueError(f"unknown claim op {op!r}")
    if abs(margin) <= noise:
        return "inconclusive", margin
    return ("holds" if margin > 0 else "fails"), margin


def min_effect(reported: ReportedPaper, metric: str, left: float, right: float) -> float:
    """The minimum effect of ``metric`` (canonical unit) for means ``left`` and ``right``."""
    if metric in reported.min_effect:
        return reported.min_effect[metric]
    kind, size = MIN_EFFECT.get(canonical_unit(reported.metric_unit(metric)), ("absolute", 0.0))
    if kind == "absolute":
        return size
    means = [abs(m) for m in (left, right) if not np.isnan(m)]
    return size * min(means) if means else 0.0


def claim_comparisons(reported: ReportedPaper, results_df: pd.DataFrame | None,
                      rerun_spread: Mapping[tuple, float] | None = None) -> pd.DataFrame:
    """Every comparison of every claim, one row each, with reproduced and paper outcomes.

    Columns: claim_id, dataset, variant, metric, left, op, right, unit (the paper's; all
    values in it), left_mean, left_std, left_n, right_mean, right_std, right_n, outcome,
    reason, paper_left, paper_right, paper_outcome, noise (the noise floor), noise_source
    ("std over seeds/repeats", "min effect", "re-run spread") and tolerance (both in the paper's unit).
    ``rerun_spread`` maps (dataset, method, variant, metric) to a measured spread
    (canonical unit).
    """
    stats = _stats_by_cell(results_df)
    rows = []
    for claim in reported.claims:
        for left, right, dataset, variant, metric in _expand(claim):
            rows.append(_comparison_row(reported, claim, stats, rerun_spread or {},
                                        left, right, dataset, variant, metric))
    return pd.DataFrame(rows)


def evaluate_claims(reported: ReportedPaper, results_df: pd.DataFrame | None, *,
                    profile: str = "paper", protocol: str = "",
                    rerun_spread: Mapping[tuple, float] | None = None) -> pd.DataFrame:
    """One row per claim: :data:`CLAIM_COLUMNS` (verdicts per the module docstring).

    ``profile`` and ``protocol`` (what that profile reduced) go beside every verdict.

    ``evidence`` lists every comparison ("MNIST-full ACC: GAPDCEC 87.10 ± 1.20 (n=3) >
    DCEC 86.50 ± 0.40 (n=3): holds") joined by "; ". ``paper_evidence`` lists only the
    comparisons that do not hold on the printed numbers (or says that all hold).
    """
    comparisons = claim_comparisons(reported, results_df, rerun_spread)
    rows = []
    for claim in reported.claims:
        mine = comparisons[comparisons["claim_id"] == claim.id]
        ran = mine[mine["outcome"] != "not run"]
        outcomes = ran["outcome"].tolist()
        verdict = _aggregate(outcomes)
        absent = list(dict.fromkeys(mine.loc[mine["outcome"] == "not run", "dataset"]))
        absent = [d for d in absent if d not in set(ran["dataset"])]
        rows.append({
            "claim_id": claim.id, "statement": claim.statement, "basis": claim.basis,
            "tolerance_source": claim.tolerance_source or "",
            "profile": profile, "verdict": verdict,
            "verdict_shown": shown_verdict(verdict, profile, protocol) + (
                f"; not run on {', '.join(reported.label(d) for d in absent)}"
                if absent and outcomes else ""),
            "protocol": protocol if profile != "paper" else "the paper's protocol",
            "paper_verdict": _aggregate(mine["paper_outcome"]),
            "n_holds": outcomes.count("holds"), "n_fails": outcomes.count("fails"),
            "n_inconclusive": outcomes.count("inconclusive"),
            "evidence": "; ".join(_evidence(reported, r, paper=False) for r in mine.itertuples()),
            "paper_evidence": _paper_evidence(reported, mine),
        })
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def shown_verdict(verdict: str, profile: str, protocol: str = "") -> str:
    """"fails under quick: CAE pretraining epochs 1-5 of 200" (the verdict alone on ``paper``)."""
    if profile == "paper":
        return verdict
    return f"{verdict} under {profile}" + (f": {protocol}" if protocol else "")


def _aggregate(outcomes) -> str:
    outcomes = list(outcomes)
    if "fails" in outcomes:
        return "fails"
    return "inconclusive" if "inconclusive" in outcomes or not outcomes else "holds"


def _expand(claim: Claim):
    for left, right in claim.side_pairs():
        for dataset in claim.datasets:
            for variant in claim.variants:
                for metric in claim.metrics:
                    yield left, right, dataset, variant, metric


def _side_stats(stats, side: str, dataset: str, variant: str, metric: str, canonical: str):
    """(mean, std, n, unit) of a claim side; a constant has std 0 and unlimited n."""
    method, own_variant, constant = parse_side(side)
    if constant is not None:
        return (constant, 0.0, np.inf, canonical)
    key = (dataset, method, variant if own_variant is None else own_variant, metric)
    return stats.get(key, (np.nan, np.nan, 0, canonical))


def _side_paper(reported: ReportedPaper, side: str, dataset: str, variant: str, metric: str):
    """(printed value or None, value in the canonical unit or NaN) of a claim side."""
    method, own_variant, constant = parse_side(side)
    if constant is not None:
        unit = reported.metric_unit(metric)
        return convert(constant, canonical_unit(unit), unit), constant
    cell = reported.cell(reported.paper_dataset(dataset), method, metric,
                         variant if own_variant is None else own_variant)
    return (None, np.nan) if cell is None else (cell.value, reported_in_canonical(cell))


def _stats_by_cell(results_df: pd.DataFrame | None) -> dict[tuple, tuple[float, float, int, str]]:
    if results_df is None or len(results_df) == 0:
        return {}
    summary = summarize_results(results_df)
    return {(r.dataset, r.method, r.variant, r.metric): (r.mean, r.std, r.n_values, r.unit)
            for r in summary.itertuples(index=False)}


def noise_floor(reported: ReportedPaper, metric: str, means: tuple[float, float],
                stds: tuple[float, float], spreads: tuple[float, float]) -> tuple[float, str]:
    """(noise floor, which term set it) of one comparison; see the module docstring."""
    terms = {"std over seeds/repeats": max(0.0 if np.isnan(s) else float(s) for s in stds),
             "min effect": min_effect(reported, metric, *means),
             "re-run spread": max(0.0 if np.isnan(s) else float(s) for s in spreads)}
    source = max(terms, key=terms.get)
    return terms[source], source


def _comparison_row(reported, claim, stats, spread, left, right, dataset, variant, metric) -> dict:
    unit = reported.metric_unit(metric)
    canonical = canonical_unit(unit)
    (l_mean, l_std, l_n, _), (r_mean, r_std, r_n, _) = (
        _side_stats(stats, side, dataset, variant, metric, canonical) for side in (left, right))
    spreads = tuple(np.nan if parse_side(side)[2] is not None else spread.get(
        (dataset, parse_side(side)[0], parse_side(side)[1] or variant, metric), np.nan)
        for side in (left, right))
    noise, noise_source = noise_floor(reported, metric, (l_mean, r_mean), (l_std, r_std), spreads)
    outcome, margin = decide(claim.op, l_mean, r_mean, noise, claim.tolerance, claim.margin)
    reason = ""
    if outcome != "inconclusive" and canonical == "s" and min(l_n, r_n) < MIN_TIMINGS:
        outcome, reason = "inconclusive", f"fewer than {MIN_TIMINGS} timings"
    elif outcome == "inconclusive" and l_n and r_n:
        reason = f"|margin| <= {noise_source}"
    elif all(n == 0 for side, n in ((left, l_n), (right, r_n)) if parse_side(side)[2] is None):
        outcome, reason = "not run", "no reproduced number on either side"
    (paper_left, paper_l), (paper_right, paper_r) = (
        _side_paper(reported, side, dataset, variant, metric) for side in (left, right))
    paper_outcome, _ = decide(claim.op, paper_l, paper_r, 0.0, claim.tolerance, claim.margin)
    shown = {name: convert(value, canonical, unit) for name, value in
             (("left_mean", l_mean), ("left_std", l_std), ("right_mean", r_mean),
              ("right_std", r_std))}
    finite = lambda n: int(n) if np.isfinite(n) else 0  # noqa: E731  (a constant: no values)
    return {"claim_id": claim.id, "dataset": dataset, "variant": variant, "metric": metric,
            "left": left, "op": claim.op, "right": right, "unit": unit, **shown,
            "left_n": finite(l_n), "right_n": finite(r_n),
            "noise": convert(noise, canonical, unit), "noise_source": noise_source,
            "outcome": outcome, "reason": reason,
            "paper_left": np.nan if paper_left is None else paper_left,
            "paper_right": np.nan if paper_right is None else paper_right,
            "paper_outcome": paper_outcome,
            "tolerance": None if claim.tolerance is None else convert(claim.tolerance, canonical, unit),
            "margin": None if claim.margin is None else convert(claim.margin, canonical, unit)}


def side_label(reported: ReportedPaper, side: str) -> str:
    """"DQN", "DQN (24)" for "dqn@24", "10" for a constant."""
    method, variant, constant = parse_side(side)
    if constant is not None:
        return f"{constant:g}"
    return reported.label(method) + (f" ({variant})" if variant is not None else "")


def _evidence(reported: ReportedPaper, row, *, paper: bool) -> str:
    decimals = printed_decimals(c.value for c in reported.cells if c.metric == row.metric)
    label = reported.label
    if paper:
        left, right = (fmt(v, decimals, missing="not printed")
                       for v in (row.paper_left, row.paper_right))
        outcome = row.paper_outcome
    else:
        left, right = (("" if parse_side(side)[2] is not None
                        else fmt_mean_std(mean, std, n, decimals))
                       for side, mean, std, n in ((row.left, row.left_mean, row.left_std, row.left_n),
                                                  (row.right, row.right_mean, row.right_std,
                                                   row.right_n)))
        outcome = row.outcome
    op = row.op if row.op != "within" else f"within {row.tolerance:g} of"
    margin = getattr(row, "margin", None)
    if margin is not None and not (isinstance(margin, float) and np.isnan(margin)):
        op = f"{op} (by > {margin:g})"
    where = f"{label(row.dataset)} {label(row.metric)}" + (f" {row.variant}" if row.variant else "")
    sides = [f"{side_label(reported, s)} {v}".rstrip() for s, v in ((row.left, left), (row.right, right))]
    text = f"{where}: {sides[0]} {op} {sides[1]}: {outcome}"
    if outcome == "inconclusive" and not paper and row.reason:
        text += (f" ({row.reason} {row.noise:.{decimals}f})" if row.reason.startswith("|")
                 else f" ({row.reason})")
    return text


def _paper_evidence(reported: ReportedPaper, comparisons: pd.DataFrame) -> str:
    failing = comparisons[comparisons["paper_outcome"] != "holds"]
    if failing.empty:
        return f"all {len(comparisons)} comparisons hold on the printed numbers"
    return "; ".join(_evidence(reported, r, paper=True) for r in failing.itertuples())
