"""The cell store (repro.papers.cells): a killed run resumes where it stopped, a report-layer
change keeps every cell, a method change invalidates that method's cells only, a corrupted or
hand-edited cell is recomputed, never used; the Ray fan-out gives the sequential results."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from repro.papers import cells as cells_module
from repro.papers.cells import CellStore, code_key, code_files, read_cell, status
from repro.papers.runner import run

sys.path.insert(0, str(Path(__file__).parent))
from test_runner import PARAMS, _fake_module  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TIMINGS = ("s", "MB")


def _params(tmp_path) -> Path:
    params = json.loads(json.dumps(PARAMS))
    params["fakehash"]["base"]["datasets"] = ["blobs", "moons", "absent"]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def _counting_module(tmp_path, calls: list):
    """The toy paper, each method's code one real module (so that editing it invalidates that
    method's cells), recording which cells ran and keeping an array for a figure."""
    module = _fake_module(tmp_path)
    module.METHOD_MODULES = {"signproj": ("repro.methods.kmeans",),
                             "randcode": ("repro.methods.ksh",)}
    inner = module.run_cell

    def run_cell(cell):
        calls.append((cell.dataset, cell.seed, cell.method))
        inner(cell)
        cell.keep(f"codes/{cell.dataset}/{cell.method}/{cell.seed}",
                  {"first": np.arange(4, dtype=np.int16) + cell.seed, "shape": (2, 2)})

    module.run_cell = run_cell
    return module


def _numbers(report: Path) -> pd.Series:
    results = pd.read_csv(report / "results.csv", dtype={"variant": str})
    results = results[~results.unit.isin(TIMINGS)]
    return results.set_index(["dataset", "method", "variant", "metric", "seed"])["value"]


@pytest.fixture
def source_copy(tmp_path, monkeypatch):
    """A copy of src/ whose files the test may edit; cell keys hash it instead of the checkout."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "src" / "repro", root / "src" / "repro",
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cells_module, "_root", lambda root_=None: root)
    return root


def test_a_report_layer_change_keeps_every_cell_a_method_change_invalidates_its_cells_only(
        tmp_path, source_copy):
    calls: list = []
    module = _counting_module(tmp_path, calls)
    params, report = _params(tmp_path), tmp_path / "r"
    first = run(module, params_path=params, report_dir=report, figure_dir=tmp_path / "f",
                log_file=False)
    every = [(d, s, m) for d in ("blobs", "moons") for s in (0, 1)
             for m in ("signproj", "randcode")]
    assert calls == every and first.provenance["extra"]["cells"]["computed"] == 8

    # the report layer (and the runner) are not part of any key
    for path in ("src/repro/report/claims.py", "src/repro/papers/runner.py"):
        with open(source_copy / path, "a") as fh:
            fh.write("\n# edited\n")
    calls.clear()
    again = run(module, params_path=params, report_dir=report, figure_dir=tmp_path / "f",
                log_file=False)
    assert calls == [] and again.provenance["extra"]["cells"]["loaded"] == 8
    pd.testing.assert_frame_equal(again.claims, first.claims)
    pd.testing.assert_frame_equal(again.comparison, first.comparison)
    assert again.artifacts.keys() == first.artifacts.keys()
    kept = again.artifacts["codes/moons/randcode/1"]
    assert kept["first"].dtype == np.int16 and list(kept["first"]) == [1, 2, 3, 4]
    assert kept["shape"] == (2, 2)

    # randcode's own module changed: its cells are stale (saying which file), the rest done
    with open(source_copy / "src/repro/methods/ksh.py", "a") as fh:
        fh.write("\n# edited\n")
    rows = status(module, "quick", params_path=params, store=report / "cells")
    states = {(r["dataset"], r["seed"], r["method"]): (r["state"], r["why"]) for r in rows}
    assert states[("absent", "*", "*")][0] == "data absent"
    for cell in every:
        state, why = states[cell]
        if cell[2] == "randcode":
            assert (state, why) == ("stale", "code: src/repro/methods/ksh.py")
        else:
            assert (state, why) == ("done", "")
    calls.clear()
    third = run(module, params_path=params, report_dir=report, figure_dir=tmp_path / "f",
                log_file=False)
    assert calls == [c for c in every if c[2] == "randcode"]
    assert third.provenance["extra"]["cells"] == {**third.provenance["extra"]["cells"],
                                                  "computed": 4, "loaded": 4, "stale": 4}
    pd.testing.assert_frame_equal(third.results, first.results)


def test_a_settings_change_names_the_setting(tmp_path):
    module = _counting_module(tmp_path, [])
    params = _params(tmp_path)
    run(module, params_path=params, report_dir=tmp_path / "r", figure_dir=tmp_path / "f",
        log_file=False)
    changed = yaml.safe_load(params.read_text())
    changed["fakehash"]["base"]["n_points"] = 300
    params.write_text(yaml.safe_dump(changed))
    rows = status(module, "quick", params_path=params, store=tmp_path / "r" / "cells")
    assert {(r["state"], r["why"]) for r in rows if r["seed"] != "*"} == {
        ("stale", "settings: config.n_points")}


def test_a_corrupted_or_hand_edited_cell_is_detected_and_recomputed(tmp_path):
    calls: list = []
    module = _counting_module(tmp_path, calls)
    params, report = _params(tmp_path), tmp_path / "r"
    first = run(module, params_path=params, report_dir=report, figure_dir=tmp_path / "f",
                log_file=False)
    store = report / "cells"
    edited = store / "blobs" / "0" / "signproj.json"       # a number changed by hand
    document = json.loads(edited.read_text())
    document["payload"]["results"][0]["value"] = 0.999
    edited.write_text(json.dumps(document, indent=1))
    truncated = store / "moons" / "1" / "randcode.json"     # a write cut short
    truncated.write_text(truncated.read_text()[:200])
    arrays = store / "moons" / "0" / "signproj.npz"         # its arrays replaced
    data = arrays.read_bytes()
    arrays.write_bytes(data[:40] + bytes([data[40] ^ 0xFF]) + data[41:])

    rows = {(r["dataset"], r["seed"], r["method"]): r for r in
            status(module, "quick", params_path=params, store=store)}
    assert rows[("blobs", 0, "signproj")]["state"] == "corrupt"
    assert "checksum mismatch" in rows[("blobs", 0, "signproj")]["why"]
    assert "not a readable cell file" in rows[("moons", 1, "randcode")]["why"]
    assert "signproj.npz: checksum mismatch" in rows[("moons", 0, "signproj")]["why"]
    assert sum(r["state"] == "done" for r in rows.values()) == 5

    calls.clear()
    again = run(module, params_path=params, report_dir=report, figure_dir=tmp_path / "f",
                log_file=False)
    assert sorted(calls) == sorted([("blobs", 0, "signproj"), ("moons", 1, "randcode"),
                                    ("moons", 0, "signproj")])
    assert again.provenance["extra"]["cells"]["corrupt"] == 3
    pd.testing.assert_frame_equal(again.results, first.results)   # not the edited 0.999
    read_cell(edited)                                             # rewritten whole and valid


def test_a_killed_run_resumes_and_computes_only_the_rest(tmp_path):
    """The stage's process dies (os._exit) in its 4th cell; the next run loads the 3 cells
    stored before and computes the 5 others; its report equals an uninterrupted run's."""
    script = tmp_path / "stage.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from test_cells import _counting_module
        from repro.papers.runner import run

        tmp, report = Path(sys.argv[1]), Path(sys.argv[2])
        calls = []
        module = _counting_module(tmp, calls)
        inner, die_in = module.run_cell, int(os.environ.get("DIE_IN_CELL", "0"))

        def run_cell(cell):
            inner(cell)
            if len(calls) == die_in:
                os._exit(17)          # killed in the middle of a cell, before it is stored
        module.run_cell = run_cell
        out = run(module, params_path=tmp / "params.yaml", report_dir=report,
                  figure_dir=tmp / "figures", log_file=False)
        print("RAN", len(calls), out.provenance["extra"]["cells"]["loaded"])
    """))
    _params(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"),
                                                          os.environ.get("PYTHONPATH", "")])}

    def stage(report, die_in=0):
        return subprocess.run([sys.executable, str(script), str(tmp_path), str(report)],
                              env={**env, "DIE_IN_CELL": str(die_in)}, capture_output=True,
                              text=True, timeout=300)

    killed = stage(tmp_path / "resumed", die_in=4)
    assert killed.returncode == 17, killed.stderr[-2000:]
    stored = sorted(p.relative_to(tmp_path / "resumed" / "cells").as_posix()
                    for p in (tmp_path / "resumed" / "cells").rglob("*.json"))
    assert stored == ["blobs/0/randcode.json", "blobs/0/signproj.json", "blobs/1/signproj.json"]
    assert not (tmp_path / "resumed" / "results.csv").exists()

    resumed = stage(tmp_path / "resumed")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "RAN 5 3" in resumed.stdout
    whole = stage(tmp_path / "whole")
    assert "RAN 8 0" in whole.stdout, whole.stderr[-2000:]
    pd.testing.assert_series_equal(_numbers(tmp_path / "resumed"), _numbers(tmp_path / "whole"))
    for name in ("comparison.csv", "claims.csv", "claim_tests.csv", "histories.csv"):
        assert (tmp_path / "resumed" / name).read_text() == (tmp_path / "whole" / name).read_text()


def test_every_paper_s_method_modules_exist_and_lose_no_file_of_its_closure():
    """Splitting a paper's closure by method keeps every compute file in some cell's key."""
    from repro.deps import import_closure

    for paper in ("gapdcec", "pqdec", "dqn", "deepcluster", "ucnn"):
        module = importlib.import_module(f"repro.papers.{paper}")
        for method, names in getattr(module, "METHOD_MODULES", {}).items():
            assert method in module.METHODS, (paper, method)
            for name in names:
                assert (REPO / "src" / (name.replace(".", "/") + ".py")).is_file(), name
        keyed = {f for method in module.METHODS for f in code_files(module, method)}
        # the runner (a paper's run_cell calls its fit_cell) is orchestration, outside the keys
        needed = {f for f in import_closure(module.__name__, stop=cells_module.ORCHESTRATION)
                  if not f.startswith("src/repro/report/")}
        assert needed <= keyed, (paper, sorted(needed - keyed))
        assert not any(f.startswith("src/repro/report/") for f in keyed)


def test_a_change_to_dec_invalidates_gapdcec_s_dec_cells_only(source_copy):
    gapdcec = importlib.import_module("repro.papers.gapdcec")
    before = {m: code_key(gapdcec, m) for m in gapdcec.METHODS}
    with open(source_copy / "src/repro/methods/dec.py", "a") as fh:
        fh.write("\n# edited\n")
    with open(source_copy / "src/repro/report/stats.py", "a") as fh:
        fh.write("\n# edited\n")
    cells_module._code_files.cache_clear()
    after = {m: code_key(gapdcec, m) for m in gapdcec.METHODS}
    assert [m for m in gapdcec.METHODS if after[m] != before[m]] == ["dec"]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("REPRO_TEST_RAY") != "1",
                    reason="Ray fan-out of a smoke stage: 3-4 min on 2 shared cores, over the CI "
                           "budget; REPRO_TEST_RAY=1 runs it")
def test_the_gapdcec_smoke_profile_on_a_local_ray_cluster_equals_the_sequential_run(
        smoke_run, real_data, tmp_path, monkeypatch):
    """Two Ray workers (one unit each: mnist-test and usps, seed 0) store the same numbers as
    the stage run in its own process (the session's smoke run, whose report carries its
    store)."""
    pytest.importorskip("ray")
    sequential = smoke_run("gapdcec") / "reports" / "gapdcec" / "smoke"
    assert len(CellStore(sequential / "cells", "gapdcec", "smoke").cell_files()) == 12
    monkeypatch.setenv("REPRO_RAY_WORKERS", "2")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    fanned = run("gapdcec", "smoke", report_dir=tmp_path / "ray", figure_dir=tmp_path / "f",
                 log_file=False, executor="ray")
    assert fanned.provenance["extra"]["executor"] == "ray"
    assert fanned.provenance["extra"]["cells"]["loaded"] == 12
    store = CellStore(tmp_path / "ray" / "cells", "gapdcec", "smoke")
    assert {read_cell(p)["provenance"]["executor"] for p in store.cell_files()} == {"ray"}
    pd.testing.assert_series_equal(_numbers(tmp_path / "ray"), _numbers(sequential))
    claims = pd.read_csv(sequential / "claims.csv")
    assert list(fanned.claims["verdict"]) == list(claims["verdict"])
