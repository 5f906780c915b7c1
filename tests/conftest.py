"""Suite-wide fixtures: the real-data mirror for tests that run whole stages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_MIRRORS = os.environ.get("REPRO_DATA_MIRRORS") or str(REPO.parent / "shared" / "data")


def _check_real_data() -> None:
    """Skip (or, with REPRO_REQUIRE_REAL_DATA=1 as in CI, fail) when the mirror is absent."""
    needed = [Path(REAL_MIRRORS) / "mnist" / "t10k-images-idx3-ubyte.gz", Path(REAL_MIRRORS) / "usps" / "usps.h5"]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        message = f"real data not found: {missing} (set REPRO_DATA_MIRRORS)"
        if os.environ.get("REPRO_REQUIRE_REAL_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _use_real_data(patch: pytest.MonkeyPatch, root: Path) -> None:
    patch.setenv("REPRO_DATA_MIRRORS", REAL_MIRRORS)
    patch.setenv("REPRO_DATA_DIR", str(root / "raw"))
    patch.setenv("REPRO_OFFLINE", "1")


@pytest.fixture
def real_data(monkeypatch, tmp_path):
    """Real MNIST/USPS from the mirror (offline, private data/raw); skip or fail if absent.

    Absent files skip the test, unless REPRO_REQUIRE_REAL_DATA=1 (CI), which fails it.
    """
    _check_real_data()
    _use_real_data(monkeypatch, tmp_path)
    return Path(REAL_MIRRORS)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """``smoke_run(paper)`` -> the root under which ``run_stage(paper, "smoke")`` wrote its
    reports/ and figures/ on the tensorflow backend, with the real data (as ``real_data``).

    Each stage's smoke run takes minutes, so it runs once per session: test_pipeline checks
    its report and test_backends compares it with the jax run. A failed run fails every test
    that asks for it, with the same error.
    """
    from repro.pipeline import run_stage

    roots: dict[str, Path] = {}
    failures: dict[str, BaseException] = {}

    def get(paper: str) -> Path:
        _check_real_data()
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
