"""The cell store: every cell of a run stored as soon as it finishes, keyed by its content.

A **cell** is one (dataset, seed, method) of a paper's run. Its file,
``<store>/<dataset>/<seed>/<method>.json`` (the store: ``reports/<paper>/<profile>/cells/``,
committed with the report), holds what the cell recorded -- its results rows, history rows,
the small objects figures need (``cell.keep``; arrays in ``<method>.npz`` beside it), its own
wall time and the shared work (``cell.shared``) it triggered, with their times -- and its
provenance (when, host, backend, device, commit). Never weights.

**The key** (:func:`cell_key`) is the cell's content, in five parts:

==========  ===================================================================================
settings    the config that ran on the dataset (per-dataset overrides and the paper's
            ``settings`` applied) without the run's lists (datasets, seeds, methods,
            per_dataset, verbose) -- plus the seed, and whether it is the run's first seed
            (some cells do extra work there)
data        the dataset's files and their sha256 (``data.files``)
code        sha256 of every file of the cell's import closure (:func:`code_files`): the paper
            module's closure without the report layer (``repro.report``), the orchestration
            (runner, this store, the fan-out, the pipeline) and other methods' modules, plus
            the closure of the method's own modules (the paper's ``METHOD_MODULES``: {method:
            (module, ...)}; a paper without it: every method depends on the whole closure)
backend     the Keras backend
packages    the versions of the numerical packages (:data:`KEY_PACKAGES` + the backend's)
==========  ===================================================================================

A stored cell whose key equals today's is **done** and used instead of running it; one whose
key differs is **stale** (and says which part changed: settings (which keys), data (which
file), code (which file), backend, packages (which)); a file that does not parse, whose
checksum (sha256 of its content, stored in it) does not match -- a corrupted or hand-edited
file -- or whose npz does not match is **corrupt**: reported and recomputed, never used.
``python -m repro cells PAPER [--profile P]`` lists them (:func:`status`).

A change to the runner's recording (``Cell.record``) that changes what a cell stores must
raise :data:`FORMAT`, which is part of every key.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import hashlib
import json
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from repro.papers._common import setting_differences

FORMAT = 1
REPORT_LAYER = ("repro.report",)
ORCHESTRATION = ("repro.papers.runner", "repro.papers.cells", "repro.papers.fanout",
                 "repro.papers.selection",
                 "repro.pipeline", "repro.summary")
COMMON_MODULES = ("repro.metrics",)   # the runner's record_clustering scores with it
KEY_PACKAGES = ("keras", "numpy", "scipy", "scikit-learn", "faiss-cpu")
BACKEND_PACKAGES = {"tensorflow": ("tensorflow", "tensorflow-cpu"), "jax": ("jax", "jaxlib"),
                    "torch": ("torch",)}
RUN_LISTS = ("datasets", "seeds", "methods", "per_dataset", "verbose")
KEY_PARTS = ("format", "settings", "data", "code", "backend", "packages")


class CellStoreError(ValueError):
    """A cell file that cannot be used (corrupt, hand-edited, of another cell)."""


# ------------------------------------------------------------------------------------ key

def digest(obj: Any) -> str:
    """sha256 of ``obj``'s canonical JSON (sorted keys, no spaces)."""
    from repro.report.atomic import to_jsonable

    text = json.dumps(to_jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False,
                      ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _code_module(module) -> str | None:
    name = getattr(module, "CODE_MODULE", None) or getattr(module, "__name__", None)
    return name if name and (name == "repro" or name.startswith("repro.")) else None


def method_modules(module, method: str) -> tuple[str, ...]:
    """The modules only ``method``'s cells run (``module.METHOD_MODULES``; none declared: ())."""
    return tuple(getattr(module, "METHOD_MODULES", {}).get(method, ()))


def code_files(module, method: str, root: Path | None = None) -> list[str]:
    """Repository-relative source files whose change invalidates ``method``'s cells (see the
    module docstring)."""
    table = getattr(module, "METHOD_MODULES", {})
    every_method = tuple(sorted({m for mods in table.values() for m in mods}))
    return list(_code_files(_code_module(module), method_modules(module, method), every_method,
                            str(_root(root))))


@functools.lru_cache(maxsize=256)
def _code_files(paper_module: str | None, own: tuple[str, ...], every_method: tuple[str, ...],
                root: str) -> tuple[str, ...]:
    from repro.deps import import_closure

    stop = REPORT_LAYER + ORCHESTRATION
    files: set[str] = set()
    for name in ((paper_module,) if paper_module else ()) + COMMON_MODULES:
        files.update(import_closure(name, Path(root), stop=stop + every_method))
    for name in own:
        files.update(import_closure(name, Path(root), stop=stop))
    return tuple(sorted(files))


def _root(root: Path | None) -> Path:
    if root is not None:
        return Path(root)
    from repro.config import repo_root

    return repo_root()


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def code_key(module, method: str, root: Path | None = None) -> dict[str, str]:
    """{file: sha256} of :func:`code_files`."""
    root = _root(root)
    return {f: _file_sha(root / f) for f in code_files(module, method, root)}


def settings_key(cfg, seed: int) -> dict:
    """The settings part of a key: ``cfg`` (a dataset's resolved config) as a dict without the
    run's lists, with the seed and whether it is the run's first seed."""
    from repro.config import to_dict

    plain = to_dict(cfg) if not isinstance(cfg, Mapping) else dict(cfg)
    seeds = list(plain.get("seeds") or [])
    for name in RUN_LISTS:
        plain.pop(name, None)
    return {"config": plain, "seed": int(seed), "first_seed": bool(seeds and seeds[0] == seed)}


def package_key(backend: str) -> dict[str, str | None]:
    from repro.report.provenance import package_versions

    return package_versions(KEY_PACKAGES + BACKEND_PACKAGES.get(backend, ()))


def cell_key(module, cfg, seed: int, method: str, files: Mapping[str, str], *, backend: str,
             packages: Mapping[str, Any], root: Path | None = None) -> dict:
    """The key of one cell (:data:`KEY_PARTS`), as plain JSON types (as a stored one reads)."""
    from repro.report.atomic import to_jsonable

    return json.loads(json.dumps(to_jsonable({
        "format": FORMAT, "settings": settings_key(cfg, seed),
        "data": {str(k): str(v) for k, v in dict(files).items()},
        "code": code_key(module, method, root), "backend": backend,
        "packages": dict(packages)})))


def key_changes(old: Mapping, new: Mapping) -> list[str]:
    """What differs between two keys, readable: ["code: src/repro/methods/dec.py", ...]."""
    changes = []
    for part in KEY_PARTS:
        a, b = old.get(part), new.get(part)
        if a == b:
            continue
        if part == "settings":
            items = [k for k, _, _ in setting_differences(a or {}, b or {})]
            changes.append(f"settings: {', '.join(items[:6])}{' ...' if len(items) > 6 else ''}")
        elif part in ("data", "code", "packages") and isinstance(a, dict) and isinstance(b, dict):
            names = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            if part == "packages":
                names = [f"{k} {a.get(k)} -> {b.get(k)}" for k in names]
            changes.append(f"{part}: {', '.join(names[:6])}{' ...' if len(names) > 6 else ''}")
        else:
            changes.append(f"{part}: {a} -> {b}")
    return changes


# ---------------------------------------------------------------------------------- store

@dataclass
class Loaded:
    """What :meth:`CellStore.load` found: ``state`` "done" (``payload`` usable), "missing",
    "stale" or "corrupt" (``why``)."""

    state: str
    payload: dict | None = None
    why: str = ""
    provenance: dict = field(default_factory=dict)


class CellStore:
    """The cells of one paper and profile under ``folder`` (see the module docstring)."""

    def __init__(self, folder: str | Path, paper: str, profile: str):
        self.folder, self.paper, self.profile = Path(folder), paper, profile

    def path(self, dataset: str, seed: int, method: str) -> Path:
        for part in (dataset, method):
            if not part or "/" in part or "\\" in part or part.startswith("."):
                raise CellStoreError(f"{part!r} cannot name a cell file")
        return self.folder / dataset / str(int(seed)) / f"{method}.json"

    def load(self, dataset: str, seed: int, method: str, key: Mapping) -> Loaded:
        path = self.path(dataset, seed, method)
        if not path.is_file():
            return Loaded("missing")
        try:
            document = read_cell(path)
            ident = (document.get("paper"), document.get("profile"), document.get("dataset"),
                     document.get("seed"), document.get("method"))
            if ident != (self.paper, self.profile, dataset, int(seed), method):
                raise CellStoreError(f"it is the cell {ident}, not this one")
        except CellStoreError as exc:
            return Loaded("corrupt", why=str(exc))
        if document["key_digest"] != digest(key):
            changes = key_changes(document["key"], key)
            return Loaded("stale", why="; ".join(changes) or "key format",
                          provenance=document.get("provenance", {}))
        return Loaded("done", document["payload"], provenance=document.get("provenance", {}))

    def save(self, dataset: str, seed: int, method: str, key: Mapping, payload: Mapping,
             provenance: Mapping) -> Path:
        """Write one cell atomically (arrays of ``payload["artifacts"]`` into an npz beside)."""
        from repro.report.atomic import to_jsonable, write_bytes_atomic, write_text_atomic

        path = self.path(dataset, seed, method)
        payload = dict(payload)
        arrays: dict[str, Any] = {}
        payload["artifacts"] = _encode(payload.get("artifacts") or {}, arrays)
        npz = path.with_suffix(".npz")
        if arrays:
            import io

            import numpy as np

            buffer = io.BytesIO()
            np.savez_compressed(buffer, **arrays)
            data = buffer.getvalue()
            payload["artifact_arrays"] = {"file": npz.name,
                                          "sha256": hashlib.sha256(data).hexdigest()}
            write_bytes_atomic(npz, data)
        elif npz.exists():
            npz.unlink()
        document = to_jsonable({
            "format": FORMAT, "paper": self.paper, "profile": self.profile, "dataset": dataset,
            "seed": int(seed), "method": method, "key_digest": digest(key), "key": dict(key),
            "provenance": dict(provenance), "payload": payload})
        document["checksum"] = digest(document)
        write_text_atomic(path, json.dumps(document, indent=1, allow_nan=False,
                                           ensure_ascii=False) + "\n")
        return path

    def write_index(self, cells: Mapping[str, str], note: str = "") -> Path:
        """``index.json``: the cells the report used ({"<dataset>/<seed>/<method>": "computed"
        | "loaded"}) -- the store's table of contents (and the proof that the report's store
        exists, for DVC, when it holds no cell)."""
        from repro.report.atomic import write_json_atomic

        return write_json_atomic(self.folder / "index.json", {
            "paper": self.paper, "profile": self.profile, "format": FORMAT,
            "note": note or "one file per cell: <dataset>/<seed>/<method>.json "
                            "(repro.papers.cells); python -m repro cells PAPER lists them",
            "cells": dict(sorted(cells.items()))})

    def cell_files(self) -> list[Path]:
        return sorted(self.folder.glob("*/*/*.json")) if self.folder.is_dir() else []

    def prune(self, keep: set[Path]) -> list[Path]:
        """Remove cell files (and their npz) not in ``keep``: cells no run of this config asks
        for (a dataset, seed or method dropped from the profile)."""
        removed = []
        keep = {Path(p).resolve() for p in keep}
        for path in self.cell_files():
            if path.resolve() not in keep:
                path.unlink()
                path.with_suffix(".npz").unlink(missing_ok=True)
                removed.append(path)
        for folder in sorted(self.folder.glob("*/*"), reverse=True) + sorted(self.folder.glob("*")):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        return removed


def read_cell(path: Path) -> dict:
    """A cell file's document, its checksum (and its npz's) verified; arrays decoded into the
    payload's artifacts. :class:`CellStoreError` saying what is wrong otherwise."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CellStoreError(f"{path}: not a readable cell file ({exc})") from exc
    if not isinstance(document, dict) or "checksum" not in document:
        raise CellStoreError(f"{path}: no checksum (not a cell file)")
    claimed = document.pop("checksum")
    if digest(document) != claimed:
        raise CellStoreError(f"{path}: checksum mismatch: the file was changed after it was "
                             f"written (corrupted or edited by hand)")
    if document.get("format") != FORMAT:
        raise CellStoreError(f"{path}: cell format {document.get('format')}, this code reads "
                             f"{FORMAT}")
    for name in ("key", "key_digest", "payload"):
        if name not in document:
            raise CellStoreError(f"{path}: no {name!r}")
    if digest(document["key"]) != document["key_digest"]:
        raise CellStoreError(f"{path}: its key does not match its key digest")
    payload = document["payload"]
    arrays = {}
    spec = payload.get("artifact_arrays")
    if spec:
        import io

        import numpy as np

        npz = path.parent / spec["file"]
        try:
            data = npz.read_bytes()
        except OSError as exc:
            raise CellStoreError(f"{path}: its arrays {npz.name} are missing ({exc})") from exc
        if hashlib.sha256(data).hexdigest() != spec["sha256"]:
            raise CellStoreError(f"{npz}: checksum mismatch (corrupted or replaced)")
        with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
            arrays = {name: loaded[name] for name in loaded.files}
    payload["artifacts"] = _decode(payload.get("artifacts") or {}, arrays)
    return document


def _encode(obj, arrays: dict):
    """Artifacts as JSON: numpy arrays -> {"__array__": name} (into ``arrays``), tuples kept."""
    import numpy as np

    if isinstance(obj, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = obj
        return {"__array__": name}
    if isinstance(obj, dict):
        return {str(k): _encode(v, arrays) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    return obj


def _decode(obj, arrays: Mapping):
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        if set(obj) == {"__tuple__"}:
            return tuple(_decode(v, arrays) for v in obj["__tuple__"])
        return {k: _decode(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    return obj


def cell_provenance(backend: str, device: Any, git: Mapping | None, seconds: float) -> dict:
    """When, where and with what a cell was computed."""
    return {"finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "host": platform.node(), "platform": platform.platform(), "backend": backend,
            "device": device, "python": sys.version.split()[0],
            "git": (git or {}).get("sha", "unknown"), "executor": os.environ.get(
                "REPRO_EXECUTOR", "local") or "local", "own_s": seconds}


def store_folder(report_dir: Path, paper: str, profile: str) -> Path:
    """Where a run reads and writes its cells: ``$REPRO_CELL_STORE`` (the stage command points
    it at the final report folder's ``cells/`` while the notebook writes into a staging
    folder) or ``<report_dir>/cells``."""
    return Path(os.environ.get("REPRO_CELL_STORE") or Path(report_dir) / "cells")


# --------------------------------------------------------------------------------- status

def status(paper, profile: str | None = None, *, params_path: str | Path | None = None,
           store: str | Path | None = None) -> list[dict]:
    """One row per cell the profile asks for (dataset, seed, method, state, why) plus the
    stored cells it does not ask for ("orphan"). Datasets absent here: "data absent".
    ``paper``: a paper key or a paper module (as :func:`repro.papers.runner.run`)."""
    from repro.config import load_params, stage_params
    from repro.data import DatasetError, load as load_dataset
    from repro.papers import output_dirs
    from repro.papers.runner import _config, _settings, paper_module
    from repro.report.provenance import keras_backend

    params = load_params(params_path or os.environ.get("REPRO_PARAMS") or None)
    module = paper_module(paper) if isinstance(paper, str) else paper
    name = module.PAPER
    profile, _ = stage_params(params, name, profile)
    cfg = _config(module, profile, params)
    cells = CellStore(Path(store) if store else output_dirs(name, profile)[0] / "cells",
                      name, profile)
    backend = keras_backend()
    packages = package_key(backend)
    load = getattr(module, "load_data", load_dataset)
    rows, wanted = [], set()
    for dataset in cfg.datasets:
        try:
            data = load(dataset)
        except DatasetError as exc:
            rows.append({"dataset": dataset, "seed": "*", "method": "*", "state": "data absent",
                         "why": str(exc).splitlines()[0]})
            continue
        ran = _settings(module, cfg, dataset, data)
        for seed in ran.seeds:
            for method in ran.methods:
                key = cell_key(module, ran, seed, method, data.files, backend=backend,
                               packages=packages)
                found = cells.load(dataset, seed, method, key)
                wanted.add(cells.path(dataset, seed, method).resolve())
                rows.append({"dataset": dataset, "seed": seed, "method": method,
                             "state": found.state, "why": found.why})
    for path in cells.cell_files():
        if path.resolve() not in wanted:
            rows.append({"dataset": path.parent.parent.name, "seed": path.parent.name,
                         "method": path.stem, "state": "orphan",
                         "why": "not a cell of this profile (removed by its next run)"})
    return rows


def _cli(args: argparse.Namespace) -> int:
    from repro.config import ConfigError

    try:
        rows = status(args.paper, args.profile, params_path=args.params, store=args.store)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
        why = f"  ({row['why']})" if row["why"] else ""
        print(f"{row['state']:<8} {row['dataset']:<16} seed {str(row['seed']):<4} "
              f"{row['method']}{why}")
    print(", ".join(f"{n} {state}" for state, n in counts.items()) or "no cells")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "cells", help="list a stage's stored cells: done, missing, stale (and why), corrupt",
        description="The cells (dataset x seed x method) of a paper's profile and their state "
                    "in the report's cell store: done (used as stored), missing, stale (which "
                    "part of its key changed: settings, data, code, backend, packages) or "
                    "corrupt (recomputed).")
    parser.add_argument("paper")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--params", default=None)
    parser.add_argument("--store", default=None, help="store folder (default: the report's cells/)")
    parser.set_defaults(func=_cli)
