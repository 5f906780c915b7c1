"""Fan a stage's missing cells out on Ray: ``REPRO_EXECUTOR=ray`` or ``--executor ray``.

Opt-in; the default (and CI) runs every cell in the stage's own process. With Ray:

* the driver (the notebook's kernel) finds the cells that are missing, stale or corrupt in
  the cell store (:mod:`repro.papers.cells`) and groups them into **units**: a (dataset, seed)
  by default -- the seed's shared work (``Cell.shared(scope="seed")``, e.g. the pretrained
  autoencoder DEC, IDEC and DCN start from) runs in the unit, before the cells that use it. A
  paper whose wider-scope shared work is per seed sets ``FANOUT = "seed"`` (one unit per seed
  over every dataset: DeepCluster's networks serve every column); "dataset" and "run" scoped
  values are otherwise computed once per unit that needs them (same inputs, same values:
  duplicated time, not different numbers);
* each unit is one Ray task declaring its resources: ``REPRO_RAY_CPUS`` (default 1) CPUs and
  ``REPRO_RAY_GPUS`` (default 0; a fraction such as 0.25 shares a GPU) GPUs;
* the driver writes each unit's cells into the store as the unit finishes (a killed driver
  keeps them: the next run resumes), then the stage's ordinary loop loads every cell from the
  store and writes the report -- the same code path as a sequential run.

``RAY_ADDRESS`` names a running cluster (``ray start --head`` on one machine, ``ray start
--address=HEAD:6379`` on the others, the same checkout and data on every node); unset, a
local cluster of ``REPRO_RAY_WORKERS`` (default: every core) CPUs starts and stops with the
stage. A worker computes its own key of each cell and the driver refuses a cell whose key
differs from its own (another commit or other data on that node).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

OBJECT_STORE_BYTES = 2**28   # a local cluster's object store: cells are small (never weights)
ENV_PASSED = ("REPRO_DATA_MIRRORS", "REPRO_DATA_DIR", "REPRO_OFFLINE", "KERAS_BACKEND",
              "REPRO_DEVICE", "TF_CPP_MIN_LOG_LEVEL", "PYTHONPATH")


def units(module, plan: list[tuple[str, int, str]]) -> list[list[tuple[str, int, list[str]]]]:
    """The missing cells ``plan`` [(dataset, seed, method)] as units of work: each a list of
    (dataset, seed, [methods]) in the run's order."""
    by_seed = getattr(module, "FANOUT", "dataset_seed") == "seed"
    groups: dict[tuple, list] = {}
    for dataset, seed, method in plan:
        unit = groups.setdefault((seed,) if by_seed else (dataset, seed), [])
        if unit and unit[-1][0] == dataset and unit[-1][1] == seed:
            unit[-1][2].append(method)
        else:
            unit.append((dataset, seed, [method]))
    return list(groups.values())


def compute_missing(module, paper: str, profile: str, cfg, store, *, recompute: bool,
                    params_path: str | Path | None, log: Callable[[str], None],
                    select: Callable[[str, int], bool] | None = None) -> int:
    """Compute every cell of the run that the store lacks (or all, ``recompute``) on Ray and
    store them; return how many were computed. ``select(dataset, seed)``: only those cells
    (``--only``: :mod:`repro.papers.selection`)."""
    from repro.data import DatasetError, load as load_dataset
    from repro.papers.cells import cell_provenance, package_key
    from repro.papers.runner import _settings, cell_key_of
    from repro.report.provenance import keras_backend

    if not isinstance(getattr(module, "__name__", None), str) or \
            not module.__name__.startswith("repro.papers."):
        raise ValueError("the ray executor runs paper modules of repro.papers only (a worker "
                         "imports the paper by name)")
    backend = keras_backend()
    packages = package_key(backend)
    load = getattr(module, "load_data", load_dataset)
    plan, keys = [], {}
    for dataset in cfg.datasets:
        try:
            data = load(dataset)
        except DatasetError:
            continue            # the stage's loop reports it as "not run: data absent"
        ran = _settings(module, cfg, dataset, data)
        for seed in ran.seeds:
            if select is not None and not select(dataset, seed):
                continue
            for method in ran.methods:
                key = cell_key_of(module, ran, seed, method, data.files, backend, packages)
                if recompute or store.load(dataset, seed, method, key).state != "done":
                    plan.append((dataset, seed, method))
                    keys[(dataset, seed, method)] = key
        del data
    if not plan:
        log(f"[{paper}] ray: every cell is stored; nothing to fan out")
        return 0
    work = units(module, plan)
    ray = _ray()
    started_here = not ray.is_initialized()
    if started_here:
        _init(ray)
    cpus = float(os.environ.get("REPRO_RAY_CPUS") or 1)
    gpus = float(os.environ.get("REPRO_RAY_GPUS") or 0)
    task = ray.remote(_unit_task).options(num_cpus=cpus, num_gpus=gpus, max_retries=0)
    log(f"[{paper}] ray: {len(plan)} cell(s) in {len(work)} unit(s), {cpus:g} CPU and "
        f"{gpus:g} GPU each, on {ray.cluster_resources().get('CPU', 0):g} CPUs")
    pending = {task.remote(paper, profile, str(params_path) if params_path else None, unit):
               unit for unit in work}
    done = 0
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            unit = pending.pop(ready[0])
            for (dataset, seed, method), key, payload, device in ray.get(ready[0]):
                if key != keys[(dataset, seed, method)]:
                    raise RuntimeError(
                        f"ray worker computed {dataset} seed {seed} {method} with another key "
                        f"than the driver's (another checkout, data or packages on that node)")
                store.save(dataset, seed, method, key, payload,
                           {**cell_provenance(backend, device, None, payload["own_s"]),
                            "executor": "ray"})
                done += 1
            log(f"[{paper}] ray: unit {_name(unit)} stored ({done} of {len(plan)} cells)")
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()
    return done


def _name(unit) -> str:
    return ", ".join(f"{d} seed {s}" for d, s, _ in unit)


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise ImportError("the ray executor needs Ray: pip install -r requirements.txt "
                          "(ray is pinned there)") from exc
    return ray


def _init(ray) -> None:
    env = {name: os.environ[name] for name in ENV_PASSED if name in os.environ}
    src = str(Path(__file__).resolve().parents[2])     # this checkout's src/, for the workers
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    runtime_env = {"env_vars": env}
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], runtime_env=runtime_env)
    else:   # the workers' output (training log) comes back into the stage's run.log
        workers = int(os.environ.get("REPRO_RAY_WORKERS") or os.cpu_count() or 1)
        ray.init(num_cpus=workers, runtime_env=runtime_env, include_dashboard=False,
                 object_store_memory=OBJECT_STORE_BYTES)


def _unit_task(paper: str, profile: str, params_path: str | None, unit) -> list:
    """One unit in a Ray worker: [((dataset, seed, method), key, payload, device)]."""
    from repro.config import load_params
    from repro.data import load as load_dataset
    from repro.devices import check_device
    from repro.papers.cells import package_key
    from repro.papers.runner import (RunState, _config, _log_line, _run_cell, _settings,
                                     cell_key_of, paper_module)
    from repro.report.provenance import keras_backend

    module = paper_module(paper)
    cfg = _config(module, profile, load_params(params_path))
    backend = keras_backend()
    device = check_device(backend)
    packages = package_key(backend)
    load = getattr(module, "load_data", load_dataset)
    state, out = RunState(), []
    for index, (dataset, seed, methods) in enumerate(unit):
        data = load(dataset)
        ran = _settings(module, cfg, dataset, data)
        for method in methods:
            payload = _run_cell(module, state, dataset, seed, method, ran, data, _log_line)
            key = cell_key_of(module, ran, seed, method, data.files, backend, packages)
            out.append(((dataset, seed, method), key, payload, device))
        state.end("seed")
        if index + 1 == len(unit) or unit[index + 1][0] != dataset:
            state.end("dataset")
    state.end("run")
    return out
