"""The Lloyd loop shared by PQ k-means and binary k-majority, and their initialisation.

Both algorithms alternate an assignment step (nearest centre under a code distance) and an
update step (the best code given the members); only the two steps differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

AssignStep = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
UpdateStep = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class LloydResult:
    """labels (n,) int64, centres (K, ...), objective per assignment step, steps run."""

    labels: np.ndarray
    centres: np.ndarray
    objective_history: list[float] = field(default_factory=list)
    n_iter: int = 0


def random_distinct_rows(rows: np.ndarray, n_rows: int, seed) -> np.ndarray:
    """Indices of ``n_rows`` random data rows with pairwise different values.

    The rows are visited in a seeded random order and a row is kept unless an earlier kept
    row has the same value, so dense regions are picked as often as in plain random picking
    (pqkmeans' "random pick") but no two initial centres coincide.
    Raises ValueError when ``rows`` holds fewer than ``n_rows`` rows or distinct values.
    """
    if rows.shape[0] < n_rows:
        raise ValueError(f"{rows.shape[0]} codes cannot form n_clusters={n_rows} clusters")
    order = np.random.default_rng(seed).permutation(rows.shape[0])
    _, first_seen = np.unique(rows[order], axis=0, return_index=True)
    if first_seen.size < n_rows:
        raise ValueError(
            f"the codes hold only {first_seen.size} distinct values, fewer than n_clusters={n_rows}"
        )
    return order[np.sort(first_seen)[:n_rows]]


def run_lloyd(assign: AssignStep, update: UpdateStep, centres: np.ndarray, n_iter: int) -> LloydResult:
    """At most ``n_iter`` assignment steps with an update step between two of them.

    As in the pqkmeans reference (Matsui et al. 2017), the last step is an assignment, so the
    returned labels are the nearest centres of the returned centres. The loop stops early when
    an assignment equals the previous one (a fixed point: the update would give the same
    centres). ``objective_history[t]`` is the summed distance to the assigned centres after
    assignment step t; it never increases.
    """
    history: list[float] = []
    previous = None
    for step in range(1, n_iter + 1):
        labels, distances = assign(centres)
        history.append(float(distances.sum(dtype=np.float64)))
        if previous is not None and np.array_equal(labels, previous):
            break
        if step < n_iter:
            centres = update(labels, centres)
        previous = labels
    return LloydResult(labels.astype(np.int64, copy=False), centres, history, step)
