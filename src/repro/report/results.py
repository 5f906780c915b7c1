"""Reproduced numbers in long format (``results.csv``) and per-epoch histories.

``results.csv`` has one row per (dataset, method, metric, seed)::

    dataset, method, metric, seed, value, unit
    mnist-full, dcec, acc, 0, 0.8731, fraction
    mnist-full, dcec, seconds, 0, 412.5, s

Reproduced clustering metrics are fractions (unit "fraction"), times seconds ("s"), memory
megabytes ("MB"); see :mod:`repro.report.units`. Values must be finite numbers: a run that
produced no number is simply absent (it is then reported as "not run").

Histories (``histories.csv``) are long in (dataset, method, seed, iteration, epoch) and wide
in metrics: ``dataset, method, seed, iteration, epoch, acc, nmi, loss, ...``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from repro.report.units import canonical_unit, check_unit, convert

RESULT_COLUMNS = ["dataset", "method", "metric", "seed", "value", "unit"]
CELL_KEYS = ["dataset", "method", "metric"]
HISTORY_KEYS = ["dataset", "method", "seed", "iteration", "epoch"]


class ResultsError(ValueError):
    """A malformed results or histories frame: missing column, duplicate row, bad value."""


class ResultsTable:
    """Collects reproduced numbers row by row; ``frame()`` gives the results.csv DataFrame.

    >>> table = ResultsTable()
    >>> table.add("mnist-full", "dcec", "acc", 0.873, seed=0, unit="fraction")
    """

    def __init__(self) -> None:
        self._rows: list[dict] = []
        self._keys: set[tuple] = set()

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> "ResultsTable":
        """A table holding the rows of an existing results frame (e.g. a read results.csv)."""
        table = cls()
        for row in validate_results(df).to_dict("records"):
            table.add(row["dataset"], row["method"], row["metric"], row["value"],
                      seed=row["seed"], unit=row["unit"])
        return table

    def add(self, dataset: str, method: str, metric: str, value: float, *,
            seed: int, unit: str) -> None:
        """Append one reproduced number; error naming the cell if it is a duplicate or not finite."""
        key = (dataset, method, metric, int(seed))
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not math.isfinite(value):
            raise ResultsError(f"value of {key} must be a finite number, got {value!r}")
        check_unit(unit)
        if key in self._keys:
            raise ResultsError(f"duplicate result for (dataset, method, metric, seed) = {key}")
        self._keys.add(key)
        self._rows.append(dict(zip(RESULT_COLUMNS, (*key, float(value), unit))))

    def add_metrics(self, dataset: str, method: str, values: Mapping[str, float], *,
                    seed: int, unit: str | Mapping[str, str]) -> None:
        """Append several metrics of one run: ``values`` = {"acc": 0.87, "nmi": 0.83}."""
        for metric, value in values.items():
            metric_unit = unit if isinstance(unit, str) else unit[metric]
            self.add(dataset, method, metric, value, seed=seed, unit=metric_unit)

    def __len__(self) -> int:
        return len(self._rows)

    def frame(self) -> pd.DataFrame:
        """The rows as a validated DataFrame with :data:`RESULT_COLUMNS`."""
        return validate_results(pd.DataFrame(self._rows, columns=RESULT_COLUMNS))

    def write_csv(self, path: str | Path) -> Path:
        """Write results.csv atomically; return its path."""
        from repro.report.atomic import write_csv_atomic

        return write_csv_atomic(path, self.frame())


def read_results_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate a results.csv."""
    return validate_results(pd.read_csv(path, dtype={"dataset": str, "method": str,
                                                     "metric": str, "unit": str}))


def validate_results(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` checked (columns, finite values, known units, no duplicate seed) and typed."""
    missing = [c for c in RESULT_COLUMNS if c not in df.columns]
    if missing:
        raise ResultsError(f"results frame lacks column(s) {missing}; has {list(df.columns)}")
    df = df[RESULT_COLUMNS].copy()
    df["value"] = pd.to_numeric(df["value"], errors="coerce").astype(float)
    bad = df[~np.isfinite(df["value"])]
    if len(bad):
        raise ResultsError(f"non-finite or non-numeric value in rows:\n{bad.head()}")
    for unit in df["unit"].unique():
        check_unit(unit)
    df["seed"] = df["seed"].astype(int)
    duplicated = df.duplicated(CELL_KEYS + ["seed"], keep=False)
    if duplicated.any():
        raise ResultsError(f"duplicate (dataset, method, metric, seed) rows:\n{df[duplicated]}")
    return df.reset_index(drop=True)


def summarize_results(df: pd.DataFrame) -> pd.DataFrame:
    """Per cell: mean, std (ddof=1; NaN for one seed), n_seeds, in the canonical unit.

    Columns: dataset, method, metric, unit (canonical), mean, std, n_seeds -- one row per
    (dataset, method, metric) in order of first appearance. Rows of one cell given in
    different units of the same dimension ("%" and "fraction") are converted first.
    """
    df = validate_results(df)
    units = df["unit"].map(canonical_unit)
    values = [convert(v, u, c) for v, u, c in zip(df["value"], df["unit"], units)]
    df = df.assign(value=values, unit=units)
    mixed = df.groupby(["metric"], sort=False)["unit"].nunique()
    if (mixed > 1).any():
        raise ResultsError(f"metric(s) {list(mixed[mixed > 1].index)} have incompatible units")
    grouped = df.groupby(CELL_KEYS + ["unit"], sort=False)["value"]
    summary = grouped.agg(mean="mean", std=lambda v: v.std(ddof=1), n_seeds="count")
    return summary.reset_index()


def histories_frame(records: Iterable[Mapping]) -> pd.DataFrame:
    """Histories DataFrame from per-epoch records (dicts with :data:`HISTORY_KEYS` + metrics)."""
    return validate_histories(pd.DataFrame(list(records)))


def validate_histories(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` checked: key columns present, at least one numeric metric column, no duplicates."""
    missing = [c for c in HISTORY_KEYS if c not in df.columns]
    if missing:
        raise ResultsError(f"histories frame lacks column(s) {missing}; has {list(df.columns)}")
    metrics = [c for c in df.columns if c not in HISTORY_KEYS]
    if not metrics:
        raise ResultsError("histories frame has no metric column besides " + ", ".join(HISTORY_KEYS))
    duplicated = df.duplicated(["dataset", "method", "seed", "iteration"], keep=False)
    if duplicated.any():
        raise ResultsError(f"duplicate (dataset, method, seed, iteration) rows:\n{df[duplicated]}")
    df = df[HISTORY_KEYS + metrics].copy()
    for column in metrics:
        df[column] = pd.to_numeric(df[column], errors="raise")
    return df.reset_index(drop=True)
