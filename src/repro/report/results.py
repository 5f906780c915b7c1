"""Reproduced numbers in long format (``results.csv``) and per-epoch histories.

``results.csv`` has one row per (dataset, method, variant, metric, seed, repeat)::

    dataset, method, variant, metric, seed, repeat, value, unit
    mnist-full, dcec, , acc, 0, 0, 0.8731, fraction
    mnist-full, dqn, 32, map, 0, 0, 0.5547, fraction
    mnist-full, pqdec, , time_s, 0, 2, 41.5, s

``variant`` is the paper's extra dimension of a cell ("" when it has none): a code length
("12" bits), a conv layer ("conv3"), a number of clusters, a set size. ``repeat`` numbers
repeated measurements of one seed (timings); it is 0 for everything measured once. A frame
without these two columns (older files, hand-made test frames) gets "" and 0.

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

RESULT_COLUMNS = ["dataset", "method", "variant", "metric", "seed", "repeat", "value", "unit"]
CELL_KEYS = ["dataset", "method", "variant", "metric"]
HISTORY_KEYS = ["dataset", "method", "variant", "seed", "iteration", "epoch"]
DEFAULTS = {"variant": "", "repeat": 0}  # filled in where a frame lacks the column


class ResultsError(ValueError):
    """A malformed results or histories frame: missing column, duplicate row, bad value."""


class ResultsTable:
    """Collects reproduced numbers row by row; ``frame()`` gives the results.csv DataFrame.

    >>> table = ResultsTable()
    >>> table.add("mnist-full", "dcec", "acc", 0.873, seed=0, unit="fraction")
    >>> table.add("cifar-10", "dqn", "map", 0.55, seed=0, unit="fraction", variant="32")
    """

    def __init__(self) -> None:
        self._rows: list[dict] = []
        self._keys: set[tuple] = set()

    def add(self, dataset: str, method: str, metric: str, value: float, *,
            seed: int, unit: str, variant: str = "", repeat: int = 0) -> None:
        """Append one reproduced number; error naming the cell if it is a duplicate or not finite."""
        key = (dataset, method, str(variant), metric, int(seed), int(repeat))
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not math.isfinite(value):
            raise ResultsError(f"value of {key} must be a finite number, got {value!r}")
        check_unit(unit)
        if key in self._keys:
            raise ResultsError(f"duplicate result for (dataset, method, variant, metric, seed, "
                               f"repeat) = {key}")
        self._keys.add(key)
        self._rows.append(dict(zip(RESULT_COLUMNS, (*key, float(value), unit))))

    def add_metrics(self, dataset: str, method: str, values: Mapping[str, float], *,
                    seed: int, unit: str | Mapping[str, str], variant: str = "",
                    repeat: int = 0) -> None:
        """Append several metrics of one run: ``values`` = {"acc": 0.87, "nmi": 0.83}."""
        for metric, value in values.items():
            metric_unit = unit if isinstance(unit, str) else unit[metric]
            self.add(dataset, method, metric, value, seed=seed, unit=metric_unit,
                     variant=variant, repeat=repeat)

    def __len__(self) -> int:
        return len(self._rows)

    def frame(self) -> pd.DataFrame:
        """The rows as a validated DataFrame with :data:`RESULT_COLUMNS`."""
        return validate_results(pd.DataFrame(self._rows, columns=RESULT_COLUMNS))


def read_results_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate a results.csv."""
    return validate_results(pd.read_csv(path, dtype={"dataset": str, "method": str,
                                                     "variant": str, "metric": str, "unit": str},
                                        keep_default_na=False, na_values={"value": ["", "nan"]}))


def validate_results(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` checked (columns, finite values, known units, no duplicate seed) and typed."""
    df = _with_defaults(df)
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
    df["repeat"] = df["repeat"].astype(int)
    df["variant"] = df["variant"].fillna("").astype(str)
    duplicated = df.duplicated(CELL_KEYS + ["seed", "repeat"], keep=False)
    if duplicated.any():
        raise ResultsError(f"duplicate (dataset, method, variant, metric, seed, repeat) rows:\n"
                           f"{df[duplicated]}")
    return df.reset_index(drop=True)


def _with_defaults(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the optional columns (variant, repeat) added at their defaults if absent."""
    absent = {column: value for column, value in DEFAULTS.items() if column not in df.columns}
    return df.assign(**absent) if absent else df


def summarize_results(df: pd.DataFrame) -> pd.DataFrame:
    """Per cell: mean, std (ddof=1; NaN for one value), n_seeds, n_values, canonical unit.

    Columns: dataset, method, variant, metric, unit (canonical), mean, std, n_seeds (distinct
    seeds), n_values (rows: seeds x repeats) -- one row per (dataset, method, variant,
    metric) in order of first appearance. Mean and std are over all values of the cell, so
    for a repeated timing of one seed the std is the spread of the repeats. Rows of one cell given in
    different units of the same dimension ("%" and "fraction") are converted first.
    """
    df = validate_results(df)
    units = df["unit"].map(canonical_unit)
    values = [convert(v, u, c) for v, u, c in zip(df["value"], df["unit"], units)]
    df = df.assign(value=values, unit=units)
    mixed = df.groupby(["metric"], sort=False)["unit"].nunique()
    if (mixed > 1).any():
        raise ResultsError(f"metric(s) {list(mixed[mixed > 1].index)} have incompatible units")
    grouped = df.groupby(CELL_KEYS + ["unit"], sort=False)
    summary = grouped["value"].agg(mean="mean", std=lambda v: v.std(ddof=1), n_values="count")
    summary["n_seeds"] = grouped["seed"].nunique()
    return summary.reset_index()[CELL_KEYS + ["unit", "mean", "std", "n_seeds", "n_values"]]


def histories_frame(records: Iterable[Mapping]) -> pd.DataFrame:
    """Histories DataFrame from per-epoch records (dicts with :data:`HISTORY_KEYS` + metrics)."""
    return validate_histories(pd.DataFrame(list(records)))


def validate_histories(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` checked: key columns present, at least one numeric metric column, no duplicates.

    A frame without a ``variant`` column gets "" (the paper has no extra dimension)."""
    if "variant" not in df.columns:
        df = df.assign(variant="")
    missing = [c for c in HISTORY_KEYS if c not in df.columns]
    if missing:
        raise ResultsError(f"histories frame lacks column(s) {missing}; has {list(df.columns)}")
    metrics = [c for c in df.columns if c not in HISTORY_KEYS]
    if not metrics:
        raise ResultsError("histories frame has no metric column besides " + ", ".join(HISTORY_KEYS))
    df = df.assign(variant=df["variant"].fillna("").astype(str))
    duplicated = df.duplicated(["dataset", "method", "variant", "seed", "iteration"], keep=False)
    if duplicated.any():
        raise ResultsError(f"duplicate (dataset, method, variant, seed, iteration) rows:\n"
                           f"{df[duplicated]}")
    df = df[HISTORY_KEYS + metrics].copy()
    for column in metrics:
        df[column] = pd.to_numeric(df[column], errors="raise")
    return df.reset_index(drop=True)
