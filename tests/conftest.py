"""Suite-wide fixtures: the real data (one fixture, ``real_data``) and the smoke runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_MIRRORS = os.environ.get("REPRO_DATA_MIRRORS") or str(REPO.parent / "shared" / "data")
# what every stage's smoke profile reads (a stage skips or fails without them)
SMOKE_DATASETS = ("mnist-test", "usps")


def require_real_files(name: str) -> None:
    """Skip unless every file of dataset ``name`` is in the real mirror; with
    ``REPRO_REQUIRE_REAL_DATA=1`` (CI) fail instead."""
    from repro.data import registry

    mirrors = [Path(p) for p in REAL_MIRRORS.split(os.pathsep) if p.strip()]

    def present(f) -> bool:
        paths = [m / f.subfolder / f.filename for m in mirrors] + [m / f.filename for m in mirrors]
        return any(p.is_dir() if f.folder else p.is_file() for p in paths)

    missing = [f.filename for f in registry.DATASETS[name].all_files if not present(f)]
    if missing:
        reason = f"real {name} files {missing} not found in {REAL_MIRRORS!r} (set REPRO_DATA_MIRRORS)"
        if os.environ.get("REPRO_REQUIRE_REAL_DATA") == "1":
            pytest.fail(reason + " and REPRO_REQUIRE_REAL_DATA=1")
        pytest.skip(reason)


def _use_real_data(patch: pytest.MonkeyPatch, root: Path) -> None:
    patch.setenv("REPRO_DATA_MIRRORS", REAL_MIRRORS)
    patch.setenv("REPRO_DATA_DIR", str(root / "raw"))
    patch.setenv("REPRO_OFFLINE", "1")


@pytest.fixture(scope="module")
def _real_datasets() -> dict:
    """The datasets ``real_data`` loaded, kept for one test module (MNIST-full is 220 MB)."""
    return {}


@pytest.fixture
def real_data(monkeypatch, tmp_path, tmp_path_factory, _real_datasets):
    """``real_data(name)`` -> the real dataset ``name`` (a :class:`repro.data.Dataset`, loaded
    once per test module from the mirror; its arrays are read-only).

    The one contract: absent files skip the test, unless ``REPRO_REQUIRE_REAL_DATA=1`` (CI),
    which fails it. For the whole test the environment points at the mirror, offline, with a
    private data/raw, so code that loads data itself (a stage, ``python -m repro data``) reads
    the same files.
    """
    _use_real_data(monkeypatch, tmp_path)

    def get(name: str):
        require_real_files(name)
        if name not in _real_datasets:
            with pytest.MonkeyPatch.context() as patch:
                _use_real_data(patch, tmp_path_factory.mktemp(f"real-{name}"))
                from repro.data import load

                dataset = load(name)
            for array in (dataset.x, dataset.y):
                array.flags.writeable = False
            _real_datasets[name] = dataset
        return _real_datasets[name]

    return get


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """``smoke_run(paper)`` -> the root under which ``run_stage(paper, "smoke")`` wrote its
    reports/ and figures/ on the tensorflow backend, with the real data (as ``real_data``:
    skipped, or failed with REPRO_REQUIRE_REAL_DATA=1, without the files of SMOKE_DATASETS).

    Each stage's smoke run takes minutes, so it runs once per session: test_pipeline checks
    its report and test_backends compares it with the jax run. A failed run fails every test
    that asks for it, with the same error.
    """
    from repro.pipeline import run_stage

    roots: dict[str, Path] = {}
    failures: dict[str, BaseException] = {}

    def get(paper: str) -> Path:
        for name in SMOKE_DATASETS:
            require_real_files(name)
        if paper in failures:
            raise RuntimeError(f"the {paper} smoke run failed earlier in this session") \
                from failures[paper]
        if paper not in roots:
            root = tmp_path_factory.mktemp(f"smoke-{paper}")
            with pytest.MonkeyPatch.context() as patch:
                _use_real_data(patch, root)
                patch.setenv("KERAS_BACKEND", "tensorflow")
                try:
                    report = run_stage(paper, "smoke", output_root=root, log_output=False)
                    assert report == root / "reports" / paper / "smoke", report   # where it says
                except BaseException as error:
                    failures[paper] = error
                    raise
            roots[paper] = root
        return roots[paper]

    return get
