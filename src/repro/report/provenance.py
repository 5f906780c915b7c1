"""Where a report came from: :func:`collect_provenance` -> provenance.json.

Keys of the returned dict (:data:`PROVENANCE_KEYS`): profile, seeds, datasets (name ->
{file: sha256}), wall_time_s, git ({"sha", "dirty", "dirty_files"}; "unknown"/None without
git or a commit), packages (distribution -> version, None if not installed), keras_backend,
device ({"cpu", "cores_logical", "cores_physical", "ram_gb", "gpus"}), python, platform,
started_utc (when the run began; the git state is read then too), timestamp_utc (when the
report was written, ISO 8601), extra.

``git.dirty`` counts tracked changes outside ``own_outputs`` (repository-relative files or
folders: the runner passes ``reports/``, ``figures/`` and ``dvc.lock``): DVC deletes a stage's
previous outputs before re-running it and other stages rewrite theirs, and none of that says
anything about the code that produced the new report. ``git.dirty_files`` lists the rest.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

PROVENANCE_KEYS = ("profile", "seeds", "datasets", "wall_time_s", "git", "packages",
                   "keras_backend", "device", "python", "platform", "started_utc",
                   "timestamp_utc", "extra")
PACKAGES = ("keras", "tensorflow", "tensorflow-cpu", "jax", "jaxlib", "torch", "numpy",
            "scipy", "scikit-learn", "pandas", "matplotlib", "faiss-cpu", "h5py",
            "papermill", "dvc")


def collect_provenance(*, profile: str, seeds, datasets: Mapping[str, Mapping[str, str]],
                       wall_time_s: Mapping[str, float], extra: Mapping[str, Any] | None = None,
                       probe_gpus: bool = True, own_outputs: tuple[str, ...] = (),
                       started_at: str | None = None, git: Mapping | None = None) -> dict:
    """Everything a reader needs to know about the run that produced a report.

    ``git`` and ``started_at``: read when the run started (:func:`git_state`, ISO time); by
    default read now. ``own_outputs``: repository-relative folders the run itself writes
    (ignored by the dirty check). ``probe_gpus=False`` skips importing the Keras backend's framework to list GPUs
    (reported as "not probed"); when the framework is already imported it is always asked.
    """
    backend = keras_backend()
    return {
        "profile": profile,
        "seeds": [int(s) for s in seeds],
        "datasets": {name: dict(files) for name, files in datasets.items()},
        "wall_time_s": {k: float(v) for k, v in wall_time_s.items()},
        "git": dict(git) if git is not None else git_state(ignore=own_outputs),
        "packages": package_versions(),
        "keras_backend": backend,
        "device": device_info(backend, probe_gpus=probe_gpus),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "started_utc": started_at or _now(),
        "timestamp_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "extra": dict(extra or {}),
    }


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def git_state(root: str | Path | None = None, ignore: tuple[str, ...] = ()) -> dict:
    """{"sha": HEAD commit or "unknown", "dirty": tracked changes? (None if unknown),
    "dirty_files": the changed tracked files}.

    ``ignore``: repository-relative files or folders whose changes do not count (the outputs).
    """
    root = Path(root) if root is not None else Path(__file__).resolve().parent
    sha = _git(root, "rev-parse", "HEAD")
    if sha is None:
        return {"sha": "unknown", "dirty": None, "dirty_files": []}
    changed = _git(root, "-c", "core.quotePath=false", "diff", "--name-only", "HEAD")
    if changed is None:  # tracked files changed against HEAD, staged or not
        return {"sha": sha, "dirty": None, "dirty_files": []}
    names = tuple(p.strip("/") for p in ignore)  # a file, or a folder and all below it
    dirty = [path for path in changed.splitlines()
             if path and not any(path == n or path.startswith(n + "/") for n in names)]
    return {"sha": sha, "dirty": bool(dirty), "dirty_files": dirty}


def _git(root: Path, *args: str) -> str | None:
    """stdout of ``git -C root args`` stripped, or None if git is absent or fails."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def package_versions(names=PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution in ``names`` (None if not installed)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def keras_backend() -> str:
    """The Keras backend in use: from keras if imported, else KERAS_BACKEND, keras.json, default."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        return json.loads(config.read_text()).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def device_info(backend: str, *, probe_gpus: bool = True) -> dict:
    """CPU model, logical/physical cores, RAM in GB and the GPUs ``backend`` sees."""
    import psutil

    return {"cpu": cpu_model(), "cores_logical": os.cpu_count(),
            "cores_physical": psutil.cpu_count(logical=False),
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "gpus": backend_gpus(backend, probe=probe_gpus)}


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else platform.processor())."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def backend_gpus(backend: str, *, probe: bool = True) -> list[str] | str:
    """Names of the GPUs the backend's framework sees ([] if none, "not probed" if skipped)."""
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    if module is None:
        return f"unknown backend {backend!r}"
    if module not in sys.modules and not probe:
        return "not probed"
    try:
        return _GPU_LISTERS[module](__import__(module))
    except Exception as exc:  # a broken GPU runtime must not break the report
        return f"error: {type(exc).__name__}: {exc}"


def _tensorflow_gpus(tf) -> list[str]:
    gpus = tf.config.list_physical_devices("GPU")
    return [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]


def _jax_gpus(jax) -> list[str]:
    return [str(d.device_kind) for d in jax.devices() if d.platform != "cpu"]


def _torch_gpus(torch) -> list[str]:
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


_GPU_LISTERS = {"tensorflow": _tensorflow_gpus, "jax": _jax_gpus, "torch": _torch_gpus}
