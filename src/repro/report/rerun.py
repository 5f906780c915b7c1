"""How far the same run moves when it is repeated: paired re-run data for every claim's test.

Same code, same seeds, same package versions, another processor (or, where no second host is
at hand, another thread count on this one): Keras' CPU kernels pick different code paths and
float sums round in another order, and training turns a difference in the last bits into a
different local optimum. :func:`rerun_pairs` keeps, for every score cell and seed both runs
measured, the value in the *reference* run and in the *re-run*; the claims read them to
estimate the re-run variance of each difference they test (:mod:`repro.report.stats`).
Seconds and megabytes depend on the machine by definition and are not kept.

File (CSV, ``benchmarks/results/rerun/<paper>-<profile>.csv``, written by
``benchmarks/rerun_spread.py``): dataset, method, variant, metric, seed, repeat, unit,
reference, rerun, reference_run, rerun_run (each run's CPU, threads and git revision).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from repro.report.results import CELL_KEYS, validate_results

RERUN_COLUMNS = CELL_KEYS + ["seed", "repeat", "unit", "reference", "rerun", "reference_run",
                             "rerun_run"]


def rerun_path(paper: str, profile: str, root: Path | None = None) -> Path:
    """benchmarks/results/rerun/<paper>-<profile>.csv under the repository."""
    from repro.config import repo_root

    return (root or repo_root()) / "benchmarks" / "results" / "rerun" / f"{paper}-{profile}.csv"


def rerun_pairs(reference: pd.DataFrame, rerun: pd.DataFrame, *, reference_run: str = "",
                rerun_run: str = "") -> pd.DataFrame:
    """Every score cell and (seed, repeat) both runs measured: its value in each."""
    keys = CELL_KEYS + ["seed", "repeat", "unit"]
    a, b = (validate_results(f) for f in (reference, rerun))
    a, b = (f[f["unit"] == "fraction"] for f in (a, b))
    both = a.merge(b, on=keys, suffixes=("_reference", "_rerun"))
    if both.empty:
        raise ValueError("the two results share no (cell, seed): not runs of the same profile")
    both = both.rename(columns={"value_reference": "reference", "value_rerun": "rerun"})
    return both.assign(reference_run=reference_run, rerun_run=rerun_run)[RERUN_COLUMNS]


def read_rerun(path: str | Path) -> pd.DataFrame:
    """A re-run file; error naming the file when it is not one."""
    frame = pd.read_csv(path, dtype={"variant": str}, keep_default_na=False)
    missing = [c for c in RERUN_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not a re-run file, lacks column(s) {missing}")
    return frame


def rerun_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per cell: the largest and the mean |re-run - reference| over seeds (for the report)."""
    diff = (frame["rerun"] - frame["reference"]).abs()
    grouped = frame.assign(diff=diff).groupby(CELL_KEYS, sort=False)["diff"]
    return grouped.agg(max_abs_diff="max", mean_abs_diff="mean").reset_index()
