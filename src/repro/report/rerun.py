"""How far the same run moves on another machine: the *re-run spread* of each cell.

Same code, same seeds, same package versions, another processor: Keras' CPU kernels
(oneDNN / Eigen) pick different SIMD code paths on different CPUs, float sums round
differently, and a k-means initialisation on a barely trained embedding turns a difference in
the last bits into a different local optimum. :func:`rerun_spread` measures it from two
results.csv files of the same profile; the runner reads the committed measurement
(:func:`rerun_spread_path`) and adds it to every claim's noise floor
(:mod:`repro.report.claims`), so a verdict does not flip on a re-run elsewhere.

File format (CSV): dataset, method, variant, metric, unit, n_seeds, max_abs_diff,
mean_abs_diff, reference_cpu, rerun_cpu -- differences per seed between the two runs, in the
canonical unit. Only score metrics (unit "fraction") are compared: seconds and megabytes
depend on the machine by definition.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from repro.report.results import CELL_KEYS, validate_results

SPREAD_COLUMNS = CELL_KEYS + ["unit", "n_seeds", "max_abs_diff", "mean_abs_diff",
                              "reference_cpu", "rerun_cpu"]


def rerun_spread_path(paper: str, profile: str, root: Path | None = None) -> Path:
    """benchmarks/results/rerun_spread/<paper>-<profile>.csv under the repository."""
    from repro.config import repo_root

    return (root or repo_root()) / "benchmarks" / "results" / "rerun_spread" / f"{paper}-{profile}.csv"


def rerun_spread(reference: pd.DataFrame, rerun: pd.DataFrame, *, reference_cpu: str = "",
                 rerun_cpu: str = "") -> pd.DataFrame:
    """Per cell, |rerun - reference| over the seeds both ran: max and mean (score metrics)."""
    keys = CELL_KEYS + ["seed", "repeat"]
    a, b = (validate_results(f) for f in (reference, rerun))
    a, b = (f[f["unit"] == "fraction"] for f in (a, b))
    both = a.merge(b, on=keys + ["unit"], suffixes=("_reference", "_rerun"))
    if both.empty:
        raise ValueError("the two results share no (cell, seed): not runs of the same profile")
    both["diff"] = (both["value_rerun"] - both["value_reference"]).abs()
    grouped = both.groupby(CELL_KEYS + ["unit"], sort=False)
    out = grouped["diff"].agg(max_abs_diff="max", mean_abs_diff="mean").reset_index()
    out["n_seeds"] = grouped["seed"].nunique().to_numpy()
    return out.assign(reference_cpu=reference_cpu, rerun_cpu=rerun_cpu)[SPREAD_COLUMNS]


def read_rerun_spread(path: str | Path) -> dict[tuple[str, str, str, str], float]:
    """{(dataset, method, variant, metric): max_abs_diff} from a spread file."""
    frame = pd.read_csv(path, dtype={"variant": str}, keep_default_na=False,
                        na_values={"max_abs_diff": ["", "nan"]})
    missing = [c for c in SPREAD_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not a re-run spread file, lacks column(s) {missing}")
    return {(r.dataset, r.method, r.variant, r.metric): float(r.max_abs_diff)
            for r in frame.itertuples(index=False) if np.isfinite(r.max_abs_diff)}
