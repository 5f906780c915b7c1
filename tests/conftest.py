"""Suite-wide fixtures: the real-data mirror for tests that run whole stages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_MIRRORS = os.environ.get("REPRO_DATA_MIRRORS") or str(REPO.parent / "shared" / "data")


@pytest.fixture
def real_data(monkeypatch, tmp_path):
    """Real MNIST/USPS from the mirror (offline, private data/raw); skip or fail if absent.

    Absent files skip the test, unless REPRO_REQUIRE_REAL_DATA=1 (CI), which fails it.
    """
    needed = [Path(REAL_MIRRORS) / "mnist" / "t10k-images-idx3-ubyte.gz", Path(REAL_MIRRORS) / "usps" / "usps.h5"]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        message = f"real data not found: {missing} (set REPRO_DATA_MIRRORS)"
        if os.environ.get("REPRO_REQUIRE_REAL_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    monkeypatch.setenv("REPRO_DATA_MIRRORS", REAL_MIRRORS)
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    return Path(REAL_MIRRORS)
