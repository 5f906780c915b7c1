"""The shared experiment runner is not clustering-shaped: a retrieval-shaped fake paper (hash
codes, mAP at two code lengths) goes through it end to end into a complete report."""

from __future__ import annotations

import json
import types
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import yaml

from repro.data import DatasetError
from repro.papers._common import StageConfig
from repro.papers.runner import log_to, run

REPORTED = {
    "paper": "fakehash", "title": "A fake hashing paper", "source": "none.txt",
    "tolerance": {"map": 0.05},
    "display": {"methods": {"signproj": "Sign of projections", "randcode": "Random codes"}},
    "tables": {"table1": {"caption": "Table 1. MAP at 8 and 16 bits", "results": [
        {"dataset": "blobs", "method": m, "variant": bits, "metric": "map", "value": v,
         "unit": "fraction"}
        for m, values in (("signproj", (0.90, 0.95)), ("randcode", (0.20, 0.20)))
        for bits, v in zip((8, 16), values)] + [
        {"dataset": "absent", "method": "signproj", "variant": 8, "metric": "map", "value": 0.5,
         "unit": "fraction"}]}},
    "claims": [{"id": "proj_beats_random", "statement": "projections beat random codes",
                "left": "signproj", "op": ">", "right": "randcode", "basis": "table",
                "for_each": {"dataset": "blobs", "metric": "map", "variant": [8, 16]}}],
}
PARAMS = {"profile": "quick", "fakehash": {
    "base": {"datasets": ["blobs", "absent"], "seeds": [0, 1, 2], "methods": ["signproj", "randcode"],
             "bits": [8, 16], "n_points": 400},
    "profiles": {"quick": {"seeds": [0, 1]}, "paper": {}, "smoke": {}}}}


def _fake_module(tmp_path) -> types.ModuleType:
    """A paper module as the runner expects one: Config, run_cell, figures, load_data."""
    @dataclass
    class Config(StageConfig, paper="fakehash", datasets=("blobs", "moons", "absent"),
                 methods=("signproj", "randcode")):
        bits: tuple[int, ...] = (8, 16)
        n_points: int = 400

    def load_data(name):
        if name == "absent":
            raise DatasetError("absent: 1 file(s) missing")
        rng = np.random.default_rng(("blobs", "moons").index(name))  # synthetic, not the paper's
        y = np.repeat(np.arange(4), 100)
        x = (rng.normal(0, 1, (4, 32))[y] + rng.normal(0, 0.3, (400, 32))).astype(np.float32)
        return types.SimpleNamespace(x=x, y=y, files={"blobs.npy": "0" * 64})

    def run_cell(cell):
        from repro.metrics import hamming_distance, mean_average_precision, rank

        rng = np.random.default_rng(cell.seed)
        x, y = cell.data.x, cell.data.y
        for bits in cell.cfg.bits:
            if cell.method == "signproj":
                codes = np.sign(x @ rng.normal(size=(x.shape[1], bits)))
            else:
                codes = rng.choice([-1.0, 1.0], size=(len(x), bits))
            query, db = codes[:40], codes[40:]
            ranking = rank(hamming_distance(query, db))
            cell.record("map", mean_average_precision(y[:40], y[40:], ranking), unit="fraction",
                        variant=str(bits))
            cell.record_history([{"iteration": 0, "epoch": 0.0, "loss": float(bits)}],
                                variant=str(bits))

    def figures(outcome, figure_dir):
        from repro.report.figures import plot_metric_vs_variant

        path = figure_dir / "map_vs_bits.png"
        plot_metric_vs_variant(outcome.comparison, "map", path, dataset="blobs", title="mAP vs bits",
                               variant_label="bits", profile=outcome.profile).clear()
        return {"map_vs_bits": path}

    reported = tmp_path / "fakehash.yaml"
    reported.write_text(yaml.safe_dump(REPORTED, sort_keys=False))
    return types.SimpleNamespace(PAPER="fakehash", Config=Config, run_cell=run_cell,
                                 figures=figures, load_data=load_data, REPORTED=reported,
                                 BUDGET={"n_points": "points"})


def test_a_retrieval_shaped_paper_runs_end_to_end(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(PARAMS))
    report, figures = tmp_path / "report", tmp_path / "figures"
    outcome = run(_fake_module(tmp_path), params_path=params, report_dir=report, figure_dir=figures)

    assert {p.name for p in report.iterdir()} == {
        "results.csv", "comparison.csv", "comparison.md", "claims.csv", "claims.md",
        "claim_tests.csv", "metrics.json", "histories.csv", "provenance.json", "run.log", "cells"}
    assert json.loads((report / "cells" / "index.json").read_text())["cells"]["blobs/1/randcode"] \
        == "computed"
    assert sorted(p.relative_to(report / "cells").as_posix()
                  for p in (report / "cells").glob("*/*/*.json")) == [
        f"blobs/{seed}/{method}.json" for seed in (0, 1) for method in ("randcode", "signproj")]
    results = pd.read_csv(report / "results.csv", dtype={"variant": str})
    assert set(results.variant) == {"8", "16"} and set(results.seed) == {0, 1}
    comparison = outcome.comparison.set_index(["dataset", "method", "variant"])
    assert comparison.loc[("blobs", "signproj", "16"), "n_seeds"] == 2
    assert comparison.loc[("absent", "signproj", "8"), "verdict"] == "not run"
    assert "absent data absent" in comparison.loc[("absent", "signproj", "8"), "note"]
    assert comparison.loc[("blobs", "signproj", "16"), "reproduced_mean"] > \
        comparison.loc[("blobs", "randcode", "16"), "reproduced_mean"]

    claim = outcome.claims.iloc[0]
    assert claim.verdict == "holds" and claim.n_holds == 2          # at 8 and at 16 bits
    assert claim.strength == "indicative"                            # a reduced profile
    assert claim.verdict_shown == "indicative (quick): holds"
    claims_md = (report / "claims.md").read_text()
    assert "Profile: `quick`" in claims_md and "2 of 3 seeds" in claims_md   # the budget, once

    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["blobs"]["signproj"]["16"]["map_n"] == 2
    provenance = json.loads((report / "provenance.json").read_text())
    assert provenance["extra"]["not_run"] == {"absent": "not run: absent data absent"}
    assert set(provenance["wall_time_s"]) == {"blobs/signproj", "blobs/randcode", "total_s"}
    assert provenance["extra"]["settings_run"]["blobs"]["seeds"] == [0, 1]
    assert provenance["started_utc"] <= provenance["timestamp_utc"]
    assert {"table1", "map_vs_bits"} <= set(outcome.figures)
    assert all(path.is_file() for path in outcome.figures.values())
    histories = pd.read_csv(report / "histories.csv", dtype={"variant": str})
    assert set(histories.variant) == {"8", "16"}


def test_shared_work_is_timed_once_and_in_no_method(tmp_path):
    module = _fake_module(tmp_path)
    calls = []

    def run_cell(cell):
        cell.shared("pretraining", lambda: calls.append(cell.method) or "weights")
        cell.record("map", 0.5, unit="fraction", variant="8")

    module.run_cell = run_cell
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(PARAMS))
    outcome = run(module, params_path=params, report_dir=tmp_path / "r", figure_dir=tmp_path / "f")
    assert calls == ["signproj", "signproj"]  # once per (dataset, seed), by the first method
    assert "blobs/shared: pretraining" in outcome.provenance["wall_time_s"]



def _params(tmp_path, **base) -> Path:
    params = json.loads(json.dumps(PARAMS))
    params["fakehash"]["base"].update(base)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_shared_values_live_as_long_as_their_scope(tmp_path):
    module = _fake_module(tmp_path)
    calls = []

    def run_cell(cell):
        for scope in ("seed", "dataset", "run"):
            cell.shared(f"{scope} value", lambda: calls.append((scope, cell.dataset, cell.seed)),
                        scope=scope)
        cell.shared("run value", lambda: calls.append(("other key", cell.dataset, cell.seed)),
                    scope="run", key=("another setting",))
        cell.record("map", 0.5, unit="fraction", variant="8")

    module.run_cell = run_cell
    params = _params(tmp_path, datasets=["blobs", "moons"])
    outcome = run(module, params_path=params, report_dir=tmp_path / "r", figure_dir=tmp_path / "f",
                  log_file=False)
    assert calls == [("seed", "blobs", 0), ("dataset", "blobs", 0), ("run", "blobs", 0),
                     ("other key", "blobs", 0), ("seed", "blobs", 1),
                     ("seed", "moons", 0), ("dataset", "moons", 0), ("seed", "moons", 1)]
    wall = outcome.provenance["wall_time_s"]
    assert {"blobs/shared: run value", "blobs/shared: dataset value",
            "moons/shared: dataset value"} <= set(wall)
    assert "moons/shared: run value" not in wall          # timed once, where it was computed
    calls.clear()   # a new run shares nothing with the last one
    run(module, params_path=params, report_dir=tmp_path / "r", figure_dir=tmp_path / "f",
        log_file=False, recompute=True)
    assert calls[:4] == [("seed", "blobs", 0), ("dataset", "blobs", 0), ("run", "blobs", 0),
                         ("other key", "blobs", 0)]


def test_a_bad_scope_or_an_unhashable_key_is_a_clear_error(tmp_path):
    from repro.papers.runner import Cell, RunState

    cell = Cell("fakehash", "blobs", 0, "signproj", None, None, lambda *a: None, RunState())
    with pytest.raises(ValueError, match="unknown scope 'paper'; known: seed, dataset, run"):
        cell.shared("net", lambda: 1, scope="paper")
    with pytest.raises(TypeError, match="shared\\('net'\\): key must be hashable"):
        cell.shared("net", lambda: 1, scope="run", key={"epochs": 3})


def test_the_order_of_methods_and_datasets_changes_no_result(tmp_path):
    """Every result of a cell depends on its own (dataset, seed, method) only: values shared
    at every scope are keyed so that the order of the config's lists does not matter."""
    module = _fake_module(tmp_path)

    def run_cell(cell):
        x = cell.shared("standardized", lambda: (cell.data.x - cell.data.x.mean(0))
                        / cell.data.x.std(0), scope="dataset")
        order = cell.shared("query order", lambda: np.random.default_rng(cell.seed).permutation(
            len(x)))
        for bits in cell.cfg.bits:
            projection = cell.shared("projection", lambda: np.random.default_rng(bits).normal(
                size=(x.shape[1], bits)), scope="run", key=bits)
            if cell.method == "signproj":
                codes = np.sign(x @ projection)
            else:
                codes = np.sign(np.random.default_rng(cell.seed).normal(size=(len(x), bits)))
            y, codes = cell.data.y[order], codes[order]
            ranking = rank(hamming_distance(codes[:40], codes[40:]))
            cell.record("map", mean_average_precision(y[:40], y[40:], ranking), unit="fraction",
                        variant=str(bits))
            cell.record("seconds", float(len(cell.method)), unit="s", variant=str(bits))

    from repro.metrics import hamming_distance, mean_average_precision, rank

    module.run_cell = run_cell
    frames = []
    for order in (1, -1):
        params = _params(tmp_path, datasets=["blobs", "moons"][::order],
                         methods=["signproj", "randcode"][::order])
        report = tmp_path / f"r{order}"
        run(module, params_path=params, report_dir=report, figure_dir=tmp_path / "f",
            log_file=False)
        results = pd.read_csv(report / "results.csv", dtype={"variant": str})
        results = results[~results.unit.isin(["s", "MB"])]
        frames.append(results.set_index(["dataset", "method", "variant", "metric", "seed"])
                      ["value"].sort_index())
    assert len(frames[0]) == 2 * 2 * 2 * 2   # datasets x methods x bits x seeds
    assert frames[0]["moons"].ne(frames[0]["blobs"]).any()   # the datasets differ
    pd.testing.assert_series_equal(frames[0], frames[1])


def test_per_dataset_methods_and_seeds_choose_the_cells_run(tmp_path):
    module = _fake_module(tmp_path)
    ran = []

    def run_cell(cell):
        ran.append((cell.dataset, cell.seed, cell.method))
        cell.record("map", 0.5, unit="fraction", variant="8")

    module.run_cell = run_cell
    module.load_data = lambda name: types.SimpleNamespace(x=np.zeros((4, 2)), y=np.zeros(4),
                                                          files={})
    params = json.loads(json.dumps(PARAMS))
    params["fakehash"]["base"]["datasets"] = ["blobs", "absent"]
    params["fakehash"]["base"]["per_dataset"] = {"absent": {"methods": ["randcode"],
                                                            "seeds": [5]}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    run(module, params_path=path, report_dir=tmp_path / "r", figure_dir=tmp_path / "f",
        log_file=False)
    assert ran == [("blobs", 0, "signproj"), ("blobs", 0, "randcode"),
                   ("blobs", 1, "signproj"), ("blobs", 1, "randcode"), ("absent", 5, "randcode")]

def test_log_to_captures_python_and_file_descriptor_output(tmp_path, capfd):
    import os

    path = tmp_path / "run.log"
    with log_to(path):
        print("from python")
        os.write(1, b"from fd 1\n")
        os.write(2, b"from fd 2\n")
    print("after")
    text = path.read_text()
    assert "from python" in text and "from fd 1" in text and "from fd 2" in text
    assert "after" not in text and "after" in capfd.readouterr().out


def test_unknown_parameter_of_the_paper_fails_before_running(tmp_path):
    params = tmp_path / "params.yaml"
    bad = json.loads(json.dumps(PARAMS))
    bad["fakehash"]["profiles"]["quick"]["n_pointz"] = 3
    params.write_text(yaml.safe_dump(bad))
    with pytest.raises(Exception, match="n_pointz"):
        run(_fake_module(tmp_path), params_path=params, report_dir=tmp_path / "r",
            figure_dir=tmp_path / "f", log_file=False)


def test_a_stored_run_is_rejudged_without_training_to_the_same_report(tmp_path, monkeypatch):
    """``rejudge`` reads results.csv / histories.csv / provenance.json of a stored run and
    writes the same comparison and claims, never calling run_cell; a missing store is a clear
    error naming the command that makes one."""
    from repro.papers.runner import rejudge

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(PARAMS))
    module = _fake_module(tmp_path)
    stored = tmp_path / "stored"
    first = run(module, params_path=params, report_dir=stored, figure_dir=tmp_path / "f1")

    def no_training(cell):
        raise AssertionError("re-judging must not train")

    module.run_cell = no_training
    again = rejudge(module, "quick", params_path=params, source_dir=stored,
                    report_dir=tmp_path / "again", figure_dir=tmp_path / "f2", log_file=False)
    pd.testing.assert_frame_equal(again.claims, first.claims)
    pd.testing.assert_frame_equal(again.comparison, first.comparison)
    assert (tmp_path / "again" / "results.csv").read_text() == (stored / "results.csv").read_text()
    provenance = json.loads((tmp_path / "again" / "provenance.json").read_text())
    assert provenance["extra"]["rejudged"]["results_from"] == first.provenance["git"]["sha"]
    assert provenance["wall_time_s"] == first.provenance["wall_time_s"]   # the run's, not ours
    assert (tmp_path / "again" / "cells" / "blobs" / "0" / "signproj.json").is_file()
    import shutil

    shutil.rmtree(stored / "cells")      # a run made before the cell store: the index says so
    rejudge(module, "quick", params_path=params, source_dir=stored,
            report_dir=tmp_path / "old", figure_dir=tmp_path / "f3", log_file=False)
    index = json.loads((tmp_path / "old" / "cells" / "index.json").read_text())
    assert index["cells"] == {} and "no cells stored" in index["note"]
    with pytest.raises(FileNotFoundError, match="python -m repro stage fakehash"):
        rejudge(module, "quick", params_path=params, source_dir=tmp_path / "nothing",
                report_dir=tmp_path / "x", figure_dir=tmp_path / "y", log_file=False)


def test_the_runner_does_not_import_the_pipeline_that_launches_it():
    from repro.deps import import_closure

    closure = import_closure("repro.papers.runner")
    assert "src/repro/papers/__init__.py" in closure      # PAPERS and output_dirs live there
    assert "src/repro/pipeline.py" not in closure
