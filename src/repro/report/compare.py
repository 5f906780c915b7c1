"""Reproduced vs reported, cell by cell: :func:`compare`.

One row per cell the paper reports (paper order), then -- if ``include_unreported`` -- one
per reproduced cell the paper does not report. Columns (:data:`COMPARISON_COLUMNS`):

=================  ==============================================================
table              the paper's table key ("" for a cell the paper does not report)
dataset, method,   the cell (variant: the paper's extra dimension -- code length, conv
variant, metric    layer -- or "")
unit               the paper's unit for this metric; reported, reproduced_mean,
                   reproduced_std and delta are all in it (89.54 next to 87.10)
reported           the number as printed
reproduced_mean    mean over seeds; NaN if not run
reproduced_std     sample std over seeds (ddof=1); NaN for a single seed
n_seeds            number of seeds (0 = not run); n_values counts repeats too
delta              reproduced_mean - reported
verdict            "within"  the (1 - alpha) interval of reproduced mean - reported (a
                              one-sample t interval over the seeds, with the cell's re-run
                              variance where a re-run measured it) lies inside
                              +- tolerance (canonical unit, 1e-9 slack for float rounding),
                   "deviates" the interval lies entirely outside +- tolerance,
                   "inconclusive" it straddles the tolerance (a single seed always does:
                              one run gives no estimate of its noise),
                   "not run"  no reproduced number for the cell,
                   "pending"  no reproduced number yet: the run's plan has the cell, but
                              none of its seeds is computed (a partial run,
                              :mod:`repro.papers.selection`); a cell with some of its
                              seeds pending keeps its verdict on the seeds it has (its
                              strength says how many) and a note naming the rest,
                   "not comparable"  the paper gives no tolerance for the metric
                              (e.g. machine-dependent seconds) or does not report the cell,
                              or the cell is a stand-in's (the YAML's ``stand_ins``): its
                              number sits beside the printed number of the dataset it stands
                              in for, noted "stand-in data for <dataset>", never compared
strength           "decisive" only under the paper profile with at least the paper's
                   number of runs (the budget behind the printed number); "indicative"
                   otherwise (a reduced budget, fewer seeds); "" where there is no verdict
note               free text: the runner's notes for the cell (see :func:`compare`)
=================  ==============================================================
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from repro.report.reported import ReportedPaper, reported_in_canonical
from repro.report.results import RESULT_COLUMNS, ResultsError, summarize_results
from repro.report.units import canonical_unit, convert

COMPARISON_COLUMNS = ["table", "dataset", "method", "variant", "metric", "unit", "reported",
                      "reproduced_mean", "reproduced_std", "n_seeds", "n_values", "delta",
                      "verdict", "strength", "note"]
VERDICTS = ("within", "deviates", "inconclusive", "not run", "not comparable", "pending")
WILDCARD = "*"
_FLOAT_SLACK = 1e-9

Notes = Mapping[tuple[str, str], str] | str | None


def compare(reported: ReportedPaper, results_df: pd.DataFrame, notes: Notes = None, *,
            include_unreported: bool = True, profile: str = "paper",
            rerun: pd.DataFrame | None = None,
            pending: Mapping[tuple[str, str], str] | None = None) -> pd.DataFrame:
    """Reported vs reproduced for every cell; see the module docstring for the columns.

    ``notes`` maps (dataset, method) to a note; either may be ``"*"`` (any), so
    ``("*", "*")`` is a global note and ``("stl-10", "*")`` one for every method on STL-10.
    A plain string is a global note. All notes matching a cell are joined with "; ", most
    general first. A notes key matching no row is an error (a typo would hide the note).

    ``pending`` maps (dataset, method) to the note of its cells a partial run left pending:
    a row of that cell without a reproduced number gets verdict "pending"; every row of it
    gets the note (a key matching no row is fine: the paper may not report the method).
    """
    summary = _summary_by_cell(results_df)
    reruns = _rerun_by_cell(rerun)
    rows = [_reported_row(reported, cell, summary.pop(
                (cell.dataset, cell.method, cell.variant, cell.metric), None),
                profile=profile, rerun=reruns.get((cell.dataset, cell.method, cell.variant,
                                                   cell.metric)))
            for cell in reported.cells]
    rows += _stand_in_rows(reported, summary)
    if include_unreported:
        rows += [_unreported_row(reported, key, stats) for key, stats in summary.items()]
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    table["n_seeds"] = table["n_seeds"].astype(int)
    table["n_values"] = table["n_values"].astype(int)
    if pending and isinstance(notes, Mapping):   # a wholly pending dataset may have no row
        waiting, present = {d for d, _ in pending}, set(table["dataset"])
        notes = {key: text for key, text in notes.items()
                 if not (key[0] in waiting and key[0] not in present)}
    table["note"] = _notes_column(table, notes)
    if pending:
        _mark_pending(table, pending)
    return table


def _mark_pending(table: pd.DataFrame, pending: Mapping[tuple[str, str], str]) -> None:
    for i, (dataset, method, verdict, note) in enumerate(zip(
            table["dataset"], table["method"], table["verdict"], table["note"])):
        text = pending.get((dataset, method))
        if text is None:
            continue
        if verdict == "not run":
            table.iloc[i, table.columns.get_loc("verdict")] = "pending"
            table.iloc[i, table.columns.get_loc("strength")] = ""
        table.iloc[i, table.columns.get_loc("note")] = "; ".join(p for p in (note, text) if p)


def _summary_by_cell(results_df: pd.DataFrame | None) -> dict[tuple[str, str, str], dict]:
    if results_df is None or len(results_df) == 0:
        return {}
    summary = summarize_results(results_df)
    return {(r.dataset, r.method, r.variant, r.metric): r._asdict()
            for r in summary.itertuples(index=False)}


def _rerun_by_cell(rerun: pd.DataFrame | None) -> dict:
    if rerun is None or len(rerun) == 0:
        return {}
    return {key: (part["rerun"] - part["reference"]).to_numpy(dtype=float)
            for key, part in rerun.groupby(["dataset", "method", "variant", "metric"])}


def _within(gap_mean: float, std: float, n: int, tolerance: float, alpha: float,
            rerun_delta=None) -> str:
    """within / deviates / inconclusive for reproduced mean - reported (canonical unit)."""
    from repro.report.stats import mean_minus

    lo, hi = mean_minus(gap_mean, std, n, 0.0, rerun_delta).interval(1 - alpha)
    if lo >= -tolerance - _FLOAT_SLACK and hi <= tolerance + _FLOAT_SLACK:
        return "within"
    if lo > tolerance + _FLOAT_SLACK or hi < -tolerance - _FLOAT_SLACK:
        return "deviates"
    return "inconclusive"


def _reported_row(reported: ReportedPaper, cell, stats: dict | None, *, profile: str = "paper",
                  rerun=None) -> dict:
    row = {"table": cell.table, "dataset": cell.dataset, "method": cell.method,
           "variant": cell.variant, "metric": cell.metric, "unit": cell.unit,
           "reported": cell.value, "note": "", "strength": ""}
    row.update(_reproduced_in(cell.unit, stats,
                              where=(cell.dataset, cell.method, cell.variant, cell.metric)))
    row["delta"] = row["reproduced_mean"] - cell.value
    tolerance = reported.tolerance_for(cell.metric)
    if stats is None:
        row["verdict"] = "not run"
    elif tolerance is None:
        row["verdict"] = "not comparable"
    else:
        row["verdict"] = _within(stats["mean"] - reported_in_canonical(cell), stats["std"],
                                 int(stats["n_values"]), tolerance, reported.alpha, rerun)
        decisive = profile == "paper" and int(stats["n_seeds"]) >= reported.runs
        row["strength"] = "decisive" if decisive else "indicative"
    return row


def _stand_in_rows(reported: ReportedPaper, summary: dict) -> list[dict]:
    """Per stand-in that ran, one row per printed cell of the dataset it stands in for: the
    stand-in's number beside the printed one, "not comparable" (consumes its summary rows)."""
    rows = []
    for stand_in, paper in reported.stand_ins.items():
        if not any(key[0] == stand_in for key in summary):
            continue
        for cell in reported.cells:
            if cell.dataset != paper:
                continue
            stats = summary.pop((stand_in, cell.method, cell.variant, cell.metric), None)
            row = _reported_row(reported, cell, stats)
            row.update(dataset=stand_in, delta=np.nan, strength="",
                       verdict="not run" if stats is None else "not comparable",
                       note=f"stand-in data for {reported.label(paper)}")
            rows.append(row)
    return rows


def _unreported_row(reported: ReportedPaper, key: tuple[str, str, str, str], stats: dict) -> dict:
    dataset, method, variant, metric = key
    unit = reported.metric_unit(metric) or stats["unit"]
    row = {"table": "", "dataset": dataset, "method": method, "variant": variant,
           "metric": metric, "unit": unit,
           "reported": np.nan, "delta": np.nan, "verdict": "not comparable",
           "strength": "", "note": "not reported in the paper"}
    row.update(_reproduced_in(unit, stats, where=key))
    return row


def _reproduced_in(unit: str, stats: dict | None, *, where: tuple) -> dict:
    """Mean/std/n of a summarised cell converted to ``unit`` (NaN, NaN, 0 if not run)."""
    if stats is None:
        return {"reproduced_mean": np.nan, "reproduced_std": np.nan, "n_seeds": 0, "n_values": 0}
    if stats["unit"] != canonical_unit(unit):
        raise ResultsError(f"cell {where}: reproduced in {stats['unit']!r}, which cannot be "
                           f"compared with the paper's {unit!r}")
    return {"reproduced_mean": convert(stats["mean"], stats["unit"], unit),
            "reproduced_std": convert(stats["std"], stats["unit"], unit),
            "n_seeds": int(stats["n_seeds"]), "n_values": int(stats["n_values"])}


def _notes_column(table: pd.DataFrame, notes: Notes) -> list[str]:
    """Each row's own note joined with every runner note whose key matches the row."""
    if notes is None:
        notes = {}
    elif isinstance(notes, str):
        notes = {(WILDCARD, WILDCARD): notes}
    ordered = sorted(notes.items(), key=lambda item: sum(k != WILDCARD for k in item[0]))
    matched = {key: False for key in notes}
    column = []
    for dataset, method, own in zip(table["dataset"], table["method"], table["note"]):
        parts = []
        for key, text in ordered:
            if _note_key_matches(key, dataset, method):
                matched[key] = True
                parts.append(text)
        column.append("; ".join(parts + ([own] if own else [])))
    unmatched = [key for key, hit in matched.items() if not hit]
    if unmatched:
        raise KeyError(f"note key(s) {unmatched} match no (dataset, method) in the comparison")
    return column


def _note_key_matches(key: tuple[str, str], dataset: str, method: str) -> bool:
    if not (isinstance(key, tuple) and len(key) == 2):
        raise KeyError(f"a notes key must be a (dataset, method) tuple, got {key!r}")
    return key[0] in (WILDCARD, dataset) and key[1] in (WILDCARD, method)


def empty_results() -> pd.DataFrame:
    """A results frame with no rows (every reported cell then compares as "not run")."""
    return pd.DataFrame(columns=RESULT_COLUMNS)
