"""Partial runs (repro.papers.selection): ``--only`` computes only some cells of the plan, the
report uses every stored cell and calls the rest "pending" -- in the comparison, the claims
and the provenance, with the projected time and the command that finishes them -- and a
later run with the rest fills them in, to the report of one whole run."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from repro.data import DatasetError
from repro.papers.runner import run
from repro.papers.selection import (Selection, SelectionError, finish_commands, only_spec,
                                    parse_only, projected_seconds, projections)

sys.path.insert(0, str(Path(__file__).parent))
from test_runner import PARAMS, REPORTED, _fake_module  # noqa: E402


def test_parse_only_reads_datasets_seeds_ranges_and_repeats():
    assert parse_only(None) is None and parse_only([]) is None
    assert parse_only(["usps"]) == {"usps": None}
    assert parse_only("usps:0,1,mnist-test") == {"usps": frozenset({0, 1}), "mnist-test": None}
    assert parse_only(["usps:0-2", "usps:4", "mnist-test:3"]) == {
        "usps": frozenset({0, 1, 2, 4}), "mnist-test": frozenset({3})}
    assert parse_only(["usps:1", "usps"]) == {"usps": None}      # all of it wins
    for bad, words in (("3", "follows no DATASET"), ("usps:x", "integers"),
                       ("usps,2", "follows no DATASET"), ("usps:3-1", "empty seed range"),
                       (":1", "names no dataset")):
        with pytest.raises(SelectionError, match=words):
            parse_only(bad)


def test_only_spec_and_commands_name_the_pending_cells():
    pending = [("usps", 2, "dec"), ("usps", 3, "dec"), ("mnist-test", 0, "dec"),
               ("mnist-test", 1, "dec")]
    plan = {"usps": [0, 1, 2, 3], "mnist-test": [0, 1]}
    spec = only_spec(pending, plan)
    assert spec == "usps:2,3,mnist-test"
    assert parse_only(spec) == {"usps": frozenset({2, 3}), "mnist-test": None}
    commands = finish_commands("gapdcec", "paper", spec)
    assert commands["this machine"] == "python -m repro stage gapdcec --profile paper --only " + spec
    assert commands["a Ray cluster"].startswith("RAY_ADDRESS=") and "--executor ray" in \
        commands["a Ray cluster"]
    # cells are keyed by backend: under TensorFlow here, a JAX GPU run has to run them all
    assert "--only" not in commands["a GPU"] and "--only" in finish_commands(
        "gapdcec", "paper", spec, backend="jax")["a GPU"]


def test_projection_is_the_mean_of_the_stored_cells_per_device_plus_shared_work_per_seed():
    stored = {("usps", 0, "dec"): {"own_s": 100.0, "shared_s": 50.0, "device": "CPU"},
              ("usps", 0, "idec"): {"own_s": 10.0, "shared_s": 0.0, "device": "CPU"},
              ("usps", 1, "dec"): {"own_s": 140.0, "shared_s": 30.0, "device": "CPU"},
              ("usps", 1, "idec"): {"own_s": 30.0, "shared_s": 0.0, "device": "CPU"}}
    projection = projections(stored)
    seconds, unknown = projected_seconds([("usps", 2, "dec"), ("usps", 2, "idec"),
                                          ("mnist-test", 0, "dec")], projection)
    assert seconds == {"CPU": pytest.approx(120 + 20 + 40)} and unknown == 1


def _setup(tmp_path, reported_extra=True):
    """The toy paper on blobs and moons (2 seeds each), its YAML reporting both and claiming
    on both."""
    params = json.loads(json.dumps(PARAMS))
    params["fakehash"]["base"]["datasets"] = ["blobs", "moons", "absent"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    reported = json.loads(json.dumps(REPORTED))
    rows = reported["tables"]["table1"]["results"]
    rows += [dict(r, dataset="moons") for r in rows if r["dataset"] == "blobs"]
    reported["claims"][0]["for_each"]["dataset"] = ["blobs", "moons"]
    reported["claims"].append({"id": "blobs_only", "statement": "on blobs alone",
                               "left": "signproj", "op": ">", "right": "randcode",
                               "basis": "table",
                               "for_each": {"dataset": "blobs", "metric": "map", "variant": [8]}})
    calls = []
    module = _fake_module(tmp_path)
    inner = module.run_cell

    def run_cell(cell):
        calls.append((cell.dataset, cell.seed, cell.method))
        inner(cell)

    module.run_cell = run_cell
    module.REPORTED = tmp_path / "fakehash.yaml"
    module.REPORTED.write_text(yaml.safe_dump(reported, sort_keys=False))
    return module, calls


def _go(module, tmp_path, report, selection=None):
    return run(module, params_path=tmp_path / "params.yaml", report_dir=tmp_path / report,
               figure_dir=tmp_path / f"{report}-figures", log_file=False, selection=selection)


def test_a_partial_run_reports_pending_cells_and_the_next_run_fills_them(tmp_path):
    module, calls = _setup(tmp_path)
    part = _go(module, tmp_path, "report", Selection(only=parse_only("blobs")))
    assert sorted(set(calls)) == [("blobs", s, m) for s in (0, 1) for m in ("randcode", "signproj")]

    comparison = part.comparison.set_index(["dataset", "method", "variant"])
    moons = comparison.loc[("moons", "signproj", "8")]
    assert moons.verdict == "pending" and moons.n_seeds == 0 and moons.strength == ""
    assert "pending: seed(s) 0, 1 of 2 (not selected by this run (--only))" in moons.note
    assert "no estimate" in moons.note           # no stored moons cell to measure from
    assert "python -m repro stage fakehash --profile quick --only moons" in moons.note
    absent = comparison.loc[("absent", "signproj", "8")]
    assert absent.verdict == "not run" and "data absent" in absent.note     # not "pending"
    assert comparison.loc[("blobs", "signproj", "8"), "verdict"] != "pending"

    claims = part.claims.set_index("claim_id")
    both = claims.loc["proj_beats_random"]
    assert both.verdict == "pending" and both.strength == "pending" and both.n_pending == 2
    assert both.verdict_shown.startswith("pending (2 of 4 comparisons wait for cells not yet "
                                         "run on moons); so far: indicative (quick): holds")
    assert claims.loc["blobs_only", "verdict"] == "holds" and claims.loc["blobs_only", "n_pending"] == 0
    tests = pd.read_csv(tmp_path / "report" / "claim_tests.csv")
    assert set(tests.loc[tests.dataset == "moons", "outcome"]) == {"pending"}
    assert "*Pending*" in (tmp_path / "report" / "comparison.md").read_text()
    assert "*Pending*" in (tmp_path / "report" / "claims.md").read_text()

    prov = json.loads((tmp_path / "report" / "provenance.json").read_text())["extra"]
    assert prov["pending"]["cells"] == 4 and prov["pending"]["only"] == "moons"
    assert prov["cells"]["pending"] == 4 and prov["cells"]["computed"] == 4
    index = json.loads((tmp_path / "report" / "cells" / "index.json").read_text())["cells"]
    assert index["moons/1/signproj"] == "pending" and index["blobs/1/signproj"] == "computed"
    assert not (tmp_path / "report" / "cells" / "moons").exists()

    from repro.papers.runner import rejudge     # a re-judged partial run stays pending

    again = rejudge(module, params_path=tmp_path / "params.yaml", source_dir=tmp_path / "report",
                    report_dir=tmp_path / "rejudged", figure_dir=tmp_path / "rejudged-figures",
                    log_file=False)
    for name in ("comparison.csv", "claims.csv"):
        assert (tmp_path / "rejudged" / name).read_text() == (tmp_path / "report" / name).read_text()
    assert again.pending == part.pending and len(again.pending) == 2

    calls.clear()
    full = _go(module, tmp_path, "report", Selection(only=parse_only(prov["pending"]["only"])))
    assert sorted(set(calls)) == [("moons", s, m) for s in (0, 1) for m in ("randcode", "signproj")]
    assert "pending" not in set(full.comparison.verdict) and "pending" not in set(full.claims.verdict)
    assert not full.comparison.note.str.contains("pending").any()
    assert json.loads((tmp_path / "report" / "provenance.json").read_text())["extra"][
        "pending"] == {"cells": 0}

    calls.clear()
    whole = _go(module, tmp_path, "whole")
    assert len(calls) == 8
    for name in ("comparison.csv", "claims.csv", "claim_tests.csv"):
        assert (tmp_path / "report" / name).read_text() == (tmp_path / "whole" / name).read_text()


def test_pending_seeds_keep_the_verdict_on_the_seeds_run_with_a_measured_projection(tmp_path):
    module, calls = _setup(tmp_path)
    out = _go(module, tmp_path, "report", Selection(only=parse_only("blobs:1,moons")))
    assert ("blobs", 0, "signproj") not in calls and ("blobs", 1, "signproj") in calls
    row = out.comparison.set_index(["dataset", "method", "variant"]).loc[("blobs", "signproj", "8")]
    assert row.verdict != "pending" and row.n_seeds == 1 and row.strength == "indicative"
    assert "pending: seed(s) 0 of 2" in row.note and "--only blobs:0" in row.note
    assert "projected about" in row.note                  # from the stored seed-1 cell
    claim = out.claims.set_index("claim_id").loc["blobs_only"]
    assert claim.verdict == "pending" and "so far" in claim.verdict_shown


def test_a_budget_stops_starting_cells_and_what_ran_is_stored(tmp_path):
    module, calls = _setup(tmp_path)
    inner = module.run_cell

    def slow(cell):
        inner(cell)
        time.sleep(0.4)

    module.run_cell = slow
    out = _go(module, tmp_path, "report", Selection(budget_s=1.0))
    assert 2 <= len(calls) <= 4
    pending = out.provenance["extra"]["pending"]
    assert pending["cells"] == 8 - len(calls)
    assert all("budget of" in why for why in pending["which"].values())
    assert len(list((tmp_path / "report" / "cells").glob("*/*/*.json"))) == len(calls)
    # past its budget, a --recompute run uses the stored cells instead of calling them pending
    stored = len(calls)
    again = run(module, params_path=tmp_path / "params.yaml", report_dir=tmp_path / "report",
                figure_dir=tmp_path / "figures", log_file=False, recompute=True,
                selection=Selection(budget_s=1e-9))
    assert len(calls) == stored
    assert again.provenance["extra"]["cells"]["loaded"] == stored
    assert again.provenance["extra"]["pending"]["cells"] == 8 - stored


def test_from_store_computes_nothing_and_bad_selections_are_named(tmp_path):
    module, calls = _setup(tmp_path)
    out = _go(module, tmp_path, "report", Selection(compute=False))
    assert calls == [] and set(out.comparison.verdict) >= {"pending", "not run"}
    assert "computes no cell" in out.provenance["extra"]["pending"]["which"]["blobs/0/randcode"]
    with pytest.raises(SelectionError, match="not a dataset of this profile"):
        _go(module, tmp_path, "report", Selection(only=parse_only("mnist-test")))
    with pytest.raises(SelectionError, match=r"seed\(s\) 7 not in"):
        _go(module, tmp_path, "report", Selection(only=parse_only("blobs:7")))
    with pytest.raises(DatasetError, match="--only absent: its data are absent"):
        _go(module, tmp_path, "report", Selection(only=parse_only("absent")))


def test_the_stage_command_names_a_bad_selection_before_running_anything(capsys, monkeypatch):
    from repro.__main__ import main

    import papermill

    monkeypatch.setattr(papermill, "execute_notebook",
                        lambda *a, **k: pytest.fail("papermill started"))
    assert main(["stage", "gapdcec", "--profile", "smoke", "--only", "cifar-10"]) == 2
    assert "--only cifar-10: not a dataset of this profile" in capsys.readouterr().err
    assert main(["stage", "gapdcec", "--profile", "smoke", "--only", "usps:9"]) == 2
    assert "seed(s) 9 not in" in capsys.readouterr().err
    assert main(["stage", "gapdcec", "--profile", "smoke", "--rejudge", "--only", "usps"]) == 2
    assert "--rejudge trains nothing" in capsys.readouterr().err
    assert main(["stage", "gapdcec", "--profile", "smoke", "--budget-min", "0"]) == 2
    assert "--budget-min must be positive" in capsys.readouterr().err


def test_bench_steps_projects_whole_pending_seeds_per_device(tmp_path):
    folder = tmp_path / "steps"
    folder.mkdir()
    for name, device, usps in (("cpu", "CPU", 1600.0), ("gpu", "GPU: H100", 200.0)):
        (folder / f"{name}.json").write_text(json.dumps({
            "device": device, "backend": "jax", "step_s": {},
            "per_seed_s": {"gapdcec": {"usps": usps, "mnist-test": 2 * usps}}}))
    from repro.papers.selection import bench_projection, bench_seconds, time_text

    bench = bench_projection("gapdcec", folder)
    assert bench == {"CPU (jax)": {"usps": 1600.0, "mnist-test": 3200.0},
                     "GPU: H100 (jax)": {"usps": 200.0, "mnist-test": 400.0}}
    assert bench_projection("dqn", folder) == {}
    pending = [("usps", 3, "dec"), ("usps", 3, "idec"), ("usps", 4, "dec"), ("mnist-test", 0, "dec")]
    upper = bench_seconds(pending, bench)          # usps seeds 3 and 4, mnist-test seed 0
    assert upper == {"CPU (jax)": 6400.0, "GPU: H100 (jax)": 800.0}
    assert bench_seconds([("mnist-full", 0, "dec")], bench) == {}     # not projected
    text = time_text({}, 0, upper)
    assert "at most 1.8 h on CPU (jax)" in text and "at most 13 min on GPU: H100 (jax)" in text
    assert time_text({}, 3).startswith("no estimate")
    (folder / "bad.json").write_text("{}")
    with pytest.raises(SelectionError, match="not a bench_steps --write-json file"):
        bench_projection("gapdcec", folder)


def test_a_note_on_a_wholly_pending_dataset_without_rows_is_not_a_typo(tmp_path):
    from repro.report.compare import compare, empty_results
    from repro.report.reported import load_reported

    path = tmp_path / "fakehash.yaml"
    path.write_text(yaml.safe_dump(REPORTED, sort_keys=False))
    reported = load_reported(path)
    notes = {("moons", "*"): "quick: 2 of 3 seeds"}      # moons: in no row (not reported)
    with pytest.raises(KeyError, match="match no"):
        compare(reported, empty_results(), notes)
    table = compare(reported, empty_results(), notes,
                    pending={("moons", "signproj"): "pending: seed(s) 0"})
    assert set(table.verdict) == {"not run"}          # blobs: unrun here, but not planned pending
