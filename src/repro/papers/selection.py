"""Partial runs: which cells of a profile's plan a run computes, and what its report says of
the cells it leaves **pending**.

A profile's *plan* is every (dataset, seed, method) cell it asks for. A run computes the
plan's missing cells -- or, given a :class:`Selection`, only some of them:

* ``--only usps`` / ``--only usps:0,1`` / ``--only usps:0-2,mnist-test`` (repeatable): only
  these datasets, optionally only these seeds of a dataset (:func:`parse_only`);
* ``--budget-min N``: start no new cell after N minutes (cells run to their end and are
  stored as they come);
* ``--from-store``: compute nothing (what the profile's DVC stage runs).

Every cell of the plan that is stored (and done: :mod:`repro.papers.cells`) is used in any
case; a cell neither computed nor stored is *pending* -- distinct from a dataset whose files
are absent here ("not run: data absent"). The report shows pending cells as such: verdict
"pending" where no seed of a (dataset, method) is stored, a note naming the pending seeds
otherwise, claims that need them "pending" (:mod:`repro.report.claims`), and the projected
time and the command that finishes them (:func:`pending_notes`, :func:`finish_commands`).

**Projected time** of a pending cell: the mean wall time of the stored cells of the same
(dataset, method) -- its own seconds, plus the shared work (a pretrained autoencoder) its
seed needed, per seed -- grouped by the device that measured them; and, where
``benchmarks/bench_steps.py --write-json`` measured a device (``benchmarks/results/steps/``),
its upper bound for every pending (dataset, seed): the training steps of one seed of the
paper profile times the network's step time (:func:`bench_projection`; GAPDCEC, PQDEC and
UCNN's JULE check). Neither: "no estimate".
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

ONLY_ENV, BUDGET_ENV, FROM_STORE_ENV = "REPRO_ONLY", "REPRO_BUDGET_MIN", "REPRO_FROM_STORE"
ONLY_HELP = ("compute only these cells of the profile's plan: DATASET or DATASET:SEEDS "
             "(seeds as 0,1 or 0-2); repeatable or comma-separated (usps:0,1,mnist-test = USPS "
             "seeds 0 and 1, every seed of MNIST-test). The report uses every stored cell of the "
             "plan; the rest are 'pending'")
_SEEDS = re.compile(r"^(\d+)(?:-(\d+))?$")
BENCH_DIR = "benchmarks/results/steps"


class SelectionError(ValueError):
    """An ``--only`` that names no cell of the plan, or cannot be read."""


@dataclass(frozen=True)
class Selection:
    """``only``: {dataset: seeds or None (all)}; None selects every dataset. ``budget_s``:
    start no new cell after this many seconds. ``compute``: False computes no cell."""

    only: Mapping[str, frozenset[int] | None] | None = None
    budget_s: float | None = None
    compute: bool = True

    def selects(self, dataset: str, seed: int) -> bool:
        if not self.compute:
            return False
        if self.only is None:
            return True
        if dataset not in self.only:
            return False
        seeds = self.only[dataset]
        return seeds is None or int(seed) in seeds

    def describe(self) -> str:
        """"every cell", "only usps (seeds 0, 1); budget 30 min", "none (from the store)"."""
        if not self.compute:
            return "none (the report from the stored cells)"
        parts = ["every missing cell" if self.only is None else "only " + ", ".join(
            d if s is None else f"{d} (seeds {', '.join(map(str, sorted(s)))})"
            for d, s in self.only.items())]
        if self.budget_s is not None:
            parts.append(f"no new cell after {self.budget_s / 60:g} min")
        return "; ".join(parts)


def parse_only(values: Iterable[str] | str | None) -> dict[str, frozenset[int] | None] | None:
    """``["usps:0,1", "mnist-test"]`` or ``"usps:0-1,mnist-test"`` -> {"usps": {0, 1},
    "mnist-test": None}. A token ``DATASET:SEEDS`` starts a dataset's seed list; bare seed
    tokens (``3``, ``0-2``) after it add to it; any other token is a dataset with all its
    seeds. None or nothing: None (every dataset)."""
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    tokens = [t for value in values for t in re.split(r"[,\s]+", value.strip()) if t]
    if not tokens:
        return None
    out: dict[str, set[int] | None] = {}
    current = None
    for token in tokens:
        if _SEEDS.match(token):
            if current is None or out[current] is None:
                raise SelectionError(
                    f"--only: seed {token!r} follows no DATASET:SEEDS (write usps:0,1)")
            out[current] |= _seeds(token)
            continue
        dataset, colon, seeds = token.partition(":")
        if not dataset:
            raise SelectionError(f"--only: {token!r} names no dataset")
        if colon and not _SEEDS.match(seeds):
            raise SelectionError(f"--only {token!r}: seeds are integers (0,1 or 0-2), "
                                 f"got {seeds!r}")
        chosen = _seeds(seeds) if colon else None
        if dataset in out and (out[dataset] is None or chosen is None):
            out[dataset] = None
        elif dataset in out:
            out[dataset] |= chosen
        else:
            out[dataset] = chosen
        current = dataset
    return {d: None if s is None else frozenset(s) for d, s in out.items()}


def _seeds(text: str) -> set[int]:
    match = _SEEDS.match(text)
    first, last = int(match.group(1)), int(match.group(2) or match.group(1))
    if last < first:
        raise SelectionError(f"--only: empty seed range {text!r}")
    return set(range(first, last + 1))


def check(selection: Selection, cfg) -> None:
    """Every dataset and seed of ``--only`` is in the profile's plan (``cfg``: the profile's
    config), else :class:`SelectionError` naming what is not."""
    if selection.only is None:
        return
    for dataset, seeds in selection.only.items():
        if dataset not in cfg.datasets:
            raise SelectionError(f"--only {dataset}: not a dataset of this profile; its "
                                 f"datasets: {', '.join(cfg.datasets)}")
        planned = set(cfg.for_dataset(dataset).seeds)
        if seeds is not None and not seeds <= planned:
            raise SelectionError(
                f"--only {dataset}: seed(s) {', '.join(map(str, sorted(seeds - planned)))} "
                f"not in this profile's seeds for {dataset} ({', '.join(map(str, sorted(planned)))})")


def to_env(only: Iterable[str] | None = None, budget_min: float | None = None,
           from_store: bool = False) -> dict[str, str]:
    """The environment that carries a selection into the notebook's kernel."""
    if budget_min is not None and budget_min <= 0:
        raise SelectionError(f"--budget-min must be positive, got {budget_min}")
    parse_only(list(only or ()))   # bad input fails here, before papermill starts
    return {ONLY_ENV: " ".join(only or ()), BUDGET_ENV: "" if budget_min is None else
            str(float(budget_min)), FROM_STORE_ENV: "1" if from_store else "0"}


def from_env() -> Selection:
    budget = os.environ.get(BUDGET_ENV) or ""
    return Selection(only=parse_only(os.environ.get(ONLY_ENV) or None),
                     budget_s=float(budget) * 60 if budget else None,
                     compute=os.environ.get(FROM_STORE_ENV) != "1")


# ------------------------------------------------------------------------ pending cells

def only_spec(pending: Iterable[tuple[str, int, str]], plan_seeds: Mapping[str, Iterable[int]]
              ) -> str:
    """The ``--only`` value that selects every pending cell: a dataset whose every planned
    seed is pending by name, else with its pending seeds (usps:2,3,4,mnist-test)."""
    seeds: dict[str, set[int]] = {}
    for dataset, seed, _ in pending:
        seeds.setdefault(dataset, set()).add(int(seed))
    parts = []
    for dataset, chosen in seeds.items():
        if chosen >= set(int(s) for s in plan_seeds.get(dataset, ())):
            parts.append(dataset)
        else:
            parts.append(f"{dataset}:{','.join(map(str, sorted(chosen)))}")
    return ",".join(parts)


def finish_commands(paper: str, profile: str, spec: str, backend: str = "tensorflow"
                    ) -> dict[str, str]:
    """How to compute the pending cells: here, on a Ray cluster (its workers on this
    checkout, data, packages and backend: the fan-out checks each cell's key), on a GPU. A
    cell's key includes the Keras backend, so on a GPU (JAX) the cells stored under another
    backend count as stale: there the command runs the profile's every cell."""
    stage = f"python -m repro stage {paper} --profile {profile}"
    base = f"{stage} --only {spec}"
    return {"this machine": base,
            "a Ray cluster": f"RAY_ADDRESS=<head>:6379 {base} --executor ray",
            "a GPU": f"KERAS_BACKEND=jax REPRO_DEVICE=gpu {base if backend == 'jax' else stage}"}


def projections(stored: Mapping[tuple[str, int, str], Mapping]) -> dict:
    """From the stored (done) cells' payloads and provenance -- {(dataset, seed, method):
    {"own_s", "shared_s", "device"}} -- the mean seconds per cell of each (dataset, method)
    and of each dataset's shared work per seed, per measuring device:
    {"cell": {(dataset, method): {device: (mean s, n)}}, "shared": {dataset: {device: s}}}."""
    cell: dict = {}
    shared_by_seed: dict = {}
    for (dataset, seed, method), info in stored.items():
        device = str(info.get("device") or "unknown device")
        cell.setdefault((dataset, method), {}).setdefault(device, []).append(
            float(info.get("own_s") or 0.0))
        per_seed = shared_by_seed.setdefault(dataset, {}).setdefault(device, {})
        per_seed[seed] = per_seed.get(seed, 0.0) + float(info.get("shared_s") or 0.0)
    return {"cell": {k: {d: (sum(v) / len(v), len(v)) for d, v in devs.items()}
                     for k, devs in cell.items()},
            "shared": {ds: {d: sum(s.values()) / len(s) for d, s in devs.items()}
                       for ds, devs in shared_by_seed.items()}}


def projected_seconds(pending: Iterable[tuple[str, int, str]], projection: Mapping
                      ) -> tuple[dict[str, float], int]:
    """({device: projected seconds of the pending cells that device has measured}, number of
    pending cells with no estimate). A device's figure counts only the cells it estimates."""
    totals: dict[str, float] = {}
    seeds_counted: set = set()
    unestimated = 0
    for dataset, seed, method in pending:
        known = projection["cell"].get((dataset, method))
        if not known:
            unestimated += 1
            continue
        for device, (mean, _) in known.items():
            totals[device] = totals.get(device, 0.0) + mean
            if (device, dataset, seed) not in seeds_counted:
                seeds_counted.add((device, dataset, seed))
                totals[device] += projection["shared"].get(dataset, {}).get(device, 0.0)
    return totals, unestimated


def bench_projection(paper: str, folder: str | Path | None = None) -> dict[str, dict[str, float]]:
    """{device label: {dataset: seconds of one seed}} from every ``bench_steps --write-json``
    file (``folder``, default ``<repo>/benchmarks/results/steps``) that projects ``paper``."""
    import json

    if folder is None:
        from repro.config import repo_root

        folder = repo_root() / BENCH_DIR
    out = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            per_seed = data["per_seed_s"].get(paper)
            label = f"{data['device']} ({data['backend']})"
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            raise SelectionError(f"{path}: not a bench_steps --write-json file ({exc})") from exc
        if per_seed:
            out[label] = {str(d): float(s) for d, s in per_seed.items()}
    return out


def bench_seconds(pending: Iterable[tuple[str, int, str]], bench: Mapping[str, Mapping[str, float]]
                  ) -> dict[str, float]:
    """{device: upper bound of the pending cells' time}: one seed's projection for every
    (dataset, seed) with a pending cell (whole seeds: an upper bound for a partial one);
    a device that does not project one of the datasets is left out."""
    seeds = {(d, int(s)) for d, s, _ in pending}
    return {device: sum(per_seed[d] for d, _ in seeds) for device, per_seed in bench.items()
            if seeds and all(d in per_seed for d, _ in seeds)}


def time_text(seconds_by_device: Mapping[str, float], unestimated: int = 0,
              bench: Mapping[str, float] | None = None) -> str:
    """"about 25 min on CPU (...)", "at most 2.1 h on GPU ... (bench_steps ...)", "no
    estimate" (and how many cells lack a measured one)."""
    parts = []
    if seconds_by_device:
        parts.append("; ".join(f"about {_minutes(s)} on {device}"
                               for device, s in seconds_by_device.items())
                     + (f"; {unestimated} cell(s) with no estimate" if unestimated else "")
                     + " (from the stored cells' wall times, with each pending seed's "
                       "shared work, e.g. autoencoder pretraining, which that seed's other "
                       "pending cells share: such notes do not add up)")
    if bench:
        parts.append("; ".join(f"at most {_minutes(s)} on {device}" for device, s in bench.items())
                     + " (benchmarks/bench_steps.py: training steps x step time, every method "
                       "of those seeds)")
    return "; ".join(parts) or ("no estimate (no stored cell of the same dataset and method, "
                                "no bench_steps projection)")


def _minutes(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.0f} min"


def pending_notes(paper: str, profile: str, pending: Mapping[tuple[str, int, str], str],
                  plan_seeds: Mapping[str, Iterable[int]], projection: Mapping,
                  bench: Mapping | None = None) -> dict[tuple[str, str], str]:
    """{(dataset, method): note} for every (dataset, method) with pending cells: which seeds,
    why, the projected time and the command that computes them."""
    by_cell: dict[tuple[str, str], list] = {}
    for (dataset, seed, method), why in pending.items():
        by_cell.setdefault((dataset, method), []).append((int(seed), why))
    notes = {}
    for (dataset, method), items in by_cell.items():
        seeds = sorted(s for s, _ in items)
        planned = sorted(int(s) for s in plan_seeds.get(dataset, ()))
        whys = sorted({why for _, why in items})
        cells = [(dataset, s, method) for s in seeds]
        seconds, missing = projected_seconds(cells, projection)
        spec = only_spec(cells, plan_seeds)
        notes[(dataset, method)] = (
            f"pending: seed(s) {', '.join(map(str, seeds))} of {len(planned)} "
            f"({'; '.join(whys)}); projected "
            f"{time_text(seconds, missing, bench_seconds(cells, bench or {}))}; "
            f"run: python -m repro stage {paper} --profile {profile} --only {spec}")
    return notes


def pending_summary(paper: str, profile: str, pending: Mapping[tuple[str, int, str], str],
                    plan_seeds: Mapping[str, Iterable[int]], projection: Mapping,
                    backend: str = "tensorflow", bench: Mapping | None = None) -> dict:
    """The provenance's ``pending`` entry: count, cells, projected time, commands."""
    if not pending:
        return {"cells": 0}
    spec = only_spec(pending, plan_seeds)
    seconds, missing = projected_seconds(pending, projection)
    upper = bench_seconds(pending, bench or {})
    return {"cells": len(pending),
            "which": {f"{d}/{s}/{m}": why for (d, s, m), why in sorted(pending.items())},
            "projected": time_text(seconds, missing, upper),
            "projected_s": {device: round(s, 1) for device, s in seconds.items()},
            "bench_steps_upper_s": {device: round(s, 1) for device, s in upper.items()},
            "no_estimate": missing, "only": spec,
            "finish": finish_commands(paper, profile, spec, backend)}
