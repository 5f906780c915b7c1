"""Report files of a stage, written atomically into ``reports/<paper>/<profile>/``.

==================  ============================================================
results.csv         reproduced numbers, long (:mod:`repro.report.results`)
comparison.csv/.md  reported vs reproduced per cell (:func:`repro.report.compare.compare`)
claims.csv/.md      claim verdicts (:func:`repro.report.claims.evaluate_claims`)
claim_tests.csv     every comparison of every claim: the test, estimate, intervals, outcome
metrics.json        DVC metrics: {dataset: {method: {acc_mean, acc_std, acc_n, ...}},
                    "wall_time_s": {...}} -- canonical units (fractions, s, MB); a cell
                    with a variant sits one level deeper: {dataset: {method: {variant: ...}}}
histories.csv       per-epoch metrics, long (:func:`repro.report.results.validate_histories`)
provenance.json     :func:`repro.report.provenance.collect_provenance`
==================  ============================================================

:func:`write_report` writes all of them in one call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd

from repro.report.atomic import write_csv_atomic, write_json_atomic, write_text_atomic
from repro.report.claims import claim_comparisons, evaluate_claims, verdicts_by_dataset
from repro.report.compare import Notes, compare
from repro.report.formatting import (decimals_by_metric, fmt, fmt_mean_std, fmt_signed,
                                     markdown_table)
from repro.report.reported import ReportedPaper
from repro.report.results import summarize_results, validate_histories, validate_results
from repro.report.units import canonical_unit, convert


def comparison_markdown(comparison: pd.DataFrame, reported: ReportedPaper) -> str:
    """comparison.md: per table, a paper-shaped grid and a cell-by-cell table."""
    decimals = decimals_by_metric(comparison)
    lines = [f"# {reported.title}: reproduced vs reported", "",
             f"Source: `{reported.source}`. All numbers in the paper's unit. Reproduced = mean "
             "± sample std over the values (seeds, and timing repeats where named). Verdict "
             f"against the tolerance ({_tolerance_text(reported)}; ours: the paper states "
             f"none), from the {100 * (1 - reported.alpha):g}% t interval of reproduced - "
             "reported: *within* = the interval lies inside the tolerance, *deviates* = "
             "entirely outside, *inconclusive* = it straddles it (always for one seed); "
             "*not comparable* = no tolerance for the metric or not in the paper; *not run* = "
             "no reproduced number. *Strength*: *decisive* only under the paper profile with "
             "the paper's number of runs, else *indicative* (a reduced budget)."
             + (PENDING_TEXT if (comparison["verdict"] == "pending").any()
                or comparison["note"].fillna("").str.contains("pending: seed").any() else ""), ""]
    for table_key, caption in list(reported.captions.items()) + [("", "Not reported in the paper")]:
        part = comparison[comparison["table"].fillna("") == table_key]
        if part.empty:
            continue
        lines += [f"## {caption}" + (f" (`{table_key}`)" if table_key else ""), ""]
        if table_key:
            lines += ["Reproduced mean ± std (the paper's number in parentheses):", "",
                      markdown_table(_paper_grid(part, reported, decimals))]
        lines += ["Cell by cell:", "", markdown_table(_cell_rows(part, reported, decimals))]
    return "\n".join(lines)


_UNIT_WORDS = {"%": "percentage points"}
PENDING_TEXT = (" *Pending*: the profile's plan has the cell but this partial run neither "
                "computed nor found it stored (unlike *not run*: data absent); its note gives "
                "the projected time and the command that computes it.")


def _tolerance_text(reported: ReportedPaper) -> str:
    parts = []
    for metric, tolerance in reported.tolerance.items():
        unit = reported.metric_unit(metric)
        shown = "none" if tolerance is None else \
            f"{convert(tolerance, canonical_unit(unit), unit):g} {_UNIT_WORDS.get(unit, unit)}"
        parts.append(f"{reported.label(metric)}: {shown}")
    return ", ".join(parts) or "none given"


def _paper_grid(part: pd.DataFrame, reported: ReportedPaper, decimals: dict) -> pd.DataFrame:
    """Rows = methods, columns = "<dataset> <metric>", as the paper's tables are laid out."""
    label = reported.label
    cells = {}
    for r in part.itertuples(index=False):
        d = decimals[r.metric]
        reproduced = fmt_mean_std(r.reproduced_mean, r.reproduced_std, r.n_values, d)
        text = reproduced.split(" (")[0]
        column = f"{label(r.dataset)} {label(r.metric)}" + (f" {r.variant}" if r.variant else "")
        cells.setdefault(label(r.method), {})[column] = f"{text} ({fmt(r.reported, d)})"
    grid = pd.DataFrame.from_dict(cells, orient="index").fillna("")
    return grid.reset_index(names="Method")


def comparison_display_frame(comparison: pd.DataFrame, reported: ReportedPaper, *,
                             include_unreported: bool = False) -> pd.DataFrame:
    """The comparison as formatted strings with display labels (for Markdown or a table image).

    Only the cells the paper reports, unless ``include_unreported``.
    """
    decimals = decimals_by_metric(comparison)
    if not include_unreported:
        comparison = comparison[comparison["table"].fillna("") != ""]
    return _cell_rows(comparison, reported, decimals)


def _cell_rows(part: pd.DataFrame, reported: ReportedPaper, decimals: dict) -> pd.DataFrame:
    label = reported.label
    rows = []
    for r in part.itertuples(index=False):
        d = decimals[r.metric]
        metric = f"{label(r.metric)} ({r.unit})" + (f", {r.variant}" if r.variant else "")
        rows.append({"Dataset": label(r.dataset), "Method": label(r.method),
                     "Metric": metric, "Paper": fmt(r.reported, d),
                     "Reproduced": fmt_mean_std(r.reproduced_mean, r.reproduced_std,
                                                r.n_values, d, n_seeds=r.n_seeds),
                     "Delta": fmt_signed(r.delta, d),
                     "Verdict": f"{r.verdict} ({r.strength})" if getattr(r, "strength", "") else r.verdict,
                     "Note": r.note})
    return pd.DataFrame(rows)


BASIS_TEXT = {"text": "stated in the paper's text", "table": "read off the paper's table"}


def basis_text(basis: str, tolerance_source=None) -> str:
    """"stated in the paper's text; tolerance ours" -- where the claim and its tolerance come from."""
    text = BASIS_TEXT[basis]
    if isinstance(tolerance_source, str) and tolerance_source:
        text += f"; tolerance {'ours' if tolerance_source == 'ours' else 'from the paper'}"
    return text


def profile_banner(profile: str, protocol: str = "") -> str:
    """The sentence that heads claims.md and the notebook: which protocol the verdicts are on."""
    if profile == "paper":
        return ("**Profile: `paper`** -- the paper's budget. A verdict is *decisive* only where "
                "it also ran on the paper's own data with the paper's number of runs; the "
                "departures from the paper's text are listed in the report.")
    return (f"**Profile: `{profile}`** -- a reduced budget, NOT the paper's: every verdict is "
            f"*indicative* at most. Budget: {protocol or 'see the report'}.")


RULE_TEXT = (
    "Each comparison is a t interval for the difference (scores) or the ratio (seconds, MB), "
    "paired across seeds where both cells share them, with the re-run variance of the "
    "difference added where a re-run was measured. A claim of m comparisons is judged at "
    "family-wise level {alpha}: a comparison *holds* when its {level}% interval lies on the "
    "claim's side (beyond its margin), *fails* when its (1 - {alpha}/m) interval lies on the "
    "other side; the claim holds when all hold, fails when one fails, else is *inconclusive*. "
    "*Untestable*: a cell did not train or a stand-in has no dynamic range (a validity gate); "
    "*not run*: no data. Strength: *decisive* only under the paper profile on the paper's "
    "data with the paper's number of runs, else *indicative*. Details: `repro.report.claims`.")


CLAIM_PENDING_TEXT = (
    " *Pending*: a comparison rests on cells the profile plans but this partial run has not "
    "computed yet; the claim waits for them (its verdict on the cells it has is shown as "
    "*so far*).")


def by_dataset_lines(reported: ReportedPaper, tests: pd.DataFrame | None, profile: str
                     ) -> list[str]:
    """The per-dataset verdict table (claims over two datasets or more), as markdown lines."""
    if tests is None or not len(tests) or tests["dataset"].nunique() < 2:
        return []
    table = verdicts_by_dataset(reported, tests, profile=profile).rename(columns={"claim": "Claim"})
    return ["", "Each claim on each dataset (its comparisons there, decided as in the claim: "
            "a comparison fails at the claim's family-wise level, holds at its level; datasets "
            "are not adjusted for each other; *pending* while a cell it needs is):", "",
            markdown_table(table)]


def claims_markdown(claims: pd.DataFrame, reported: ReportedPaper, protocol: str = "",
                    tests: pd.DataFrame | None = None) -> str:
    """claims.md: the profile, the rule, a summary table (and, given the comparisons
    ``tests``, the per-dataset verdicts), then each claim's evidence."""
    profile = claims["profile"].iloc[0] if len(claims) else "paper"
    lines = [f"# {reported.title}: claims", "", profile_banner(profile, protocol), "",
             RULE_TEXT.format(alpha=f"{reported.alpha:g}",
                              level=f"{100 * (1 - reported.alpha):g}")
             + (CLAIM_PENDING_TEXT if (claims["verdict"] == "pending").any() else ""),
             "*On the paper's numbers* checks the claim on the printed values (their sign). "
             "*Basis*: whether the paper states the claim in words or we read it off its table.",
             ""]
    summary = pd.DataFrame({
        "Claim": claims["claim_id"], "Statement": claims["statement"],
        "Basis": [basis_text(b, t) for b, t in zip(claims["basis"], claims["tolerance_source"])],
        "Verdict": claims["verdict_shown"], "On the paper's numbers": claims["paper_verdict"],
        "holds / fails / inconclusive / untestable": [f"{h} / {f} / {i} / {u}" for h, f, i, u in zip(
            claims["n_holds"], claims["n_fails"], claims["n_inconclusive"], claims["n_untestable"])]})
    lines.append(markdown_table(summary))
    lines += by_dataset_lines(reported, tests, profile) + [""]
    for r in claims.itertuples(index=False):
        lines += [f"## `{r.claim_id}`: {r.verdict_shown}", "", r.statement,
                  f"({basis_text(r.basis, r.tolerance_source)})", ""]
        lines += [f"- {item}" for item in r.evidence.split("; ") if item]
        lines += ["", f"On the paper's numbers ({r.paper_verdict}): {r.paper_evidence}", ""]
    return "\n".join(lines)


def metrics_dict(results_df: pd.DataFrame, wall_time_s: Mapping[str, float] | float | None = None
                 ) -> dict:
    """{dataset: {method: {"<metric>_mean", "<metric>_std", "<metric>_n"}}} (+ "wall_time_s").

    Canonical units (fractions, s, MB); std is None for a single seed; values rounded to 6
    decimals so that DVC diffs show real changes only.
    """
    out: dict = {}
    if results_df is not None and len(results_df):
        for r in summarize_results(results_df).itertuples(index=False):
            entry = out.setdefault(r.dataset, {}).setdefault(r.method, {})
            if r.variant:
                entry = entry.setdefault(r.variant, {})
            entry[f"{r.metric}_mean"] = round(float(r.mean), 6)
            entry[f"{r.metric}_std"] = None if pd.isna(r.std) else round(float(r.std), 6)
            entry[f"{r.metric}_n"] = int(r.n_values)
    if wall_time_s is not None:
        out["wall_time_s"] = wall_time_s if not isinstance(wall_time_s, Mapping) else \
            {k: round(float(v), 3) for k, v in wall_time_s.items()}
    return out


def write_metrics_json(path: str | Path, results_df: pd.DataFrame,
                       wall_time_s: Mapping[str, float] | float | None = None) -> Path:
    """Write :func:`metrics_dict` to ``path`` (metrics.json) atomically."""
    return write_json_atomic(path, metrics_dict(results_df, wall_time_s))


def write_histories_csv(path: str | Path, histories_df: pd.DataFrame) -> Path:
    """Validate and write histories.csv (dataset, method, seed, iteration, epoch, metrics...)."""
    return write_csv_atomic(path, validate_histories(histories_df))


def write_comparison(directory: str | Path, comparison: pd.DataFrame,
                     reported: ReportedPaper) -> tuple[Path, Path]:
    """Write comparison.csv and comparison.md into ``directory``."""
    directory = Path(directory)
    return (write_csv_atomic(directory / "comparison.csv", comparison),
            write_text_atomic(directory / "comparison.md", comparison_markdown(comparison, reported)))


def write_claims(directory: str | Path, claims: pd.DataFrame,
                 reported: ReportedPaper, protocol: str = "",
                 tests: pd.DataFrame | None = None) -> tuple[Path, Path]:
    """Write claims.csv and claims.md into ``directory``."""
    directory = Path(directory)
    return (write_csv_atomic(directory / "claims.csv", claims),
            write_text_atomic(directory / "claims.md",
                              claims_markdown(claims, reported, protocol, tests)))


def write_report(directory: str | Path, reported: ReportedPaper, results_df: pd.DataFrame, *,
                 notes: Notes = None, histories_df: pd.DataFrame | None = None,
                 provenance: Mapping | None = None,
                 wall_time_s: Mapping[str, float] | float | None = None,
                 include_unreported: bool = True, profile: str = "paper",
                 rerun: pd.DataFrame | None = None, gates=None,
                 pending: Mapping[tuple[str, str], str] | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Write every report file into ``directory``; return (comparison, claims, claim tests).

    ``include_unreported=False`` keeps reproduced metrics the paper does not report
    (e.g. ARI, seconds) out of the comparison; they stay in results.csv and metrics.json.
    ``profile``, ``rerun`` (paired re-run data) and ``gates`` go to the claims' tests.
    ``pending``: {(dataset, method): note} of the cells a partial run left pending.
    """
    directory = Path(directory)
    results_df = validate_results(results_df)
    write_csv_atomic(directory / "results.csv", results_df)
    comparison = compare(reported, results_df, notes, include_unreported=include_unreported,
                         profile=profile, rerun=rerun, pending=pending)
    tests = claim_comparisons(reported, results_df, rerun=rerun, gates=gates,
                              pending=set(pending or ()))
    claims = evaluate_claims(reported, results_df, profile=profile, comparisons=tests)
    protocol = (provenance or {}).get("extra", {}).get("protocol", "") if provenance else ""
    write_comparison(directory, comparison, reported)
    write_claims(directory, claims, reported, "" if profile == "paper" else protocol, tests)
    write_csv_atomic(directory / "claim_tests.csv", tests)
    write_metrics_json(directory / "metrics.json", results_df, wall_time_s)
    if histories_df is not None:
        write_histories_csv(directory / "histories.csv", histories_df)
    if provenance is not None:
        write_json_atomic(directory / "provenance.json", provenance)
    return comparison, claims, tests
