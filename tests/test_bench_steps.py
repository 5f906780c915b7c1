"""benchmarks/bench_steps.py's projection without measuring anything: the UCNN stand-ins'
per-seed steps (hand-checked terms, the set sizes against the loaders) and ``--reproject``
(tmp copies of the stored JSON only)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import bench_steps  # noqa: E402

STORED = REPO / bench_steps.RESULTS / "cpu-tensorflow.json"


@pytest.fixture(scope="module")
def ucnn_cfg():
    from repro.pipeline import stage_config

    return stage_config("ucnn", "paper")[1]


def test_ucnn_stand_ins_are_projected_per_seed_with_every_network(ucnn_cfg):
    per_seed = bench_steps.per_seed_steps("ucnn")
    for dataset in ("mnist-test-04", "mnist-test-59", "mnist-train-59"):
        nets = per_seed[dataset]
        assert set(nets) == {bench_steps.DENSE_NET, bench_steps.UCNN_NET, "JULE CNN 28x28 (MNIST)"}
        assert all(steps > 0 for steps in nets.values())
    # the JULE check's entries are still JULE's only
    assert set(per_seed["mnist-full"]) == {"JULE CNN 28x28 (MNIST)"}
    assert set(per_seed["usps"]) == {"JULE CNN 16x16 (USPS)"}
    # the scale curve (mnist-train-59's first seed) is in that set's figure
    c = ucnn_cfg.for_dataset("mnist-train-59")
    assert c.scale.dataset == "mnist-train-59"
    without_curve = sum(bench_steps._ucnn_method_steps(m, c, 29404, 5).get(bench_steps.DENSE_NET, 0)
                        for m in c.methods)
    assert per_seed["mnist-train-59"][bench_steps.DENSE_NET] > without_curve


def test_hand_computed_terms_from_params(ucnn_cfg):
    c = ucnn_cfg.for_dataset("mnist-test-04")
    # params.yaml ucnn.base: dense_pretrain 200 epochs of batch 256; dec max_iter 20000 of
    # batch 256, target update every 140 steps; ucnn 10 epochs of batch 50
    assert (c.dense_pretrain.epochs, c.dense_pretrain.batch_size) == (200, 256)
    assert (c.dec.max_iter, c.dec.batch_size, c.dec.update_interval) == (20000, 256, 140)
    assert (c.ucnn.epochs, c.ucnn.batch_size) == (10, 50)
    dec = bench_steps._ucnn_method_steps("dec", c, 5139, 5)[bench_steps.DENSE_NET]
    batches = math.ceil(5139 / 256)                                  # 21
    assert dec == pytest.approx(200 * batches + 20000 + (143 + 1) * batches / 3)   # 25208
    ucnn = bench_steps._ucnn_method_steps("ucnn", c, 4861, 5)[bench_steps.UCNN_NET]
    assert ucnn == pytest.approx(10 * 98 + 98 / 3 + 1 / 3)          # ceil(4861 / 50) = 98
    assert bench_steps._ucnn_method_steps("cnn_cm", c, 5139, 5) == {}
    # JULE on 5139 digits, k = 5: C_0 = 856.5 -> 85.5 -> 8.5 -> 5: 3 periods of 20 epochs
    assert bench_steps._jule_schedule(5139, 5, c.jule) == (3, 60)
    # the shared pretraining (5 epochs of batch 128 on 30596 digits) = 2.56 steps of 50 each
    total = bench_steps._ucnn_stand_in_steps(c, "mnist-test-04")[bench_steps.UCNN_NET]
    own = sum(bench_steps._ucnn_method_steps(m, c, 5139, 5).get(bench_steps.UCNN_NET, 0)
              for m in c.methods)
    assert total - own == pytest.approx(5 * math.ceil(30596 / 128) * 128 / 50)


def test_stand_in_sizes_are_the_loaders(real_data):
    sets = {**bench_steps.UCNN_SETS, "mnist-train-04": bench_steps.UCNN_PRETRAIN_IMAGES}
    for name, n in sets.items():
        assert len(real_data(name).x) == n, name


def test_reproject_keeps_the_stored_figures_and_adds_the_stand_ins(tmp_path):
    stored = json.loads(STORED.read_text(encoding="utf-8"))
    path = tmp_path / "steps.json"
    path.write_text(json.dumps(stored), encoding="utf-8")
    new = bench_steps.reproject(path)
    assert new["gapdcec"] == stored["per_seed_s"]["gapdcec"]
    assert new["pqdec"] == stored["per_seed_s"]["pqdec"]
    assert {d: new["ucnn"][d] for d in ("mnist-full", "usps")} == \
        {d: stored["per_seed_s"]["ucnn"][d] for d in ("mnist-full", "usps")}
    assert all(new["ucnn"][d] > 0 for d in bench_steps.UCNN_SETS)
    again = json.loads(path.read_text(encoding="utf-8"))
    assert again["step_s"] == stored["step_s"] and again["per_seed_s"] == new
    # without the earlier figures: the same up to the rounding of the stored step times
    del stored["per_seed_s"]
    path.write_text(json.dumps(stored), encoding="utf-8")
    fresh = bench_steps.reproject(path)
    old = json.loads(STORED.read_text(encoding="utf-8"))["per_seed_s"]
    for paper in ("gapdcec", "pqdec"):
        assert fresh[paper].keys() == old[paper].keys()
        for dataset, seconds in old[paper].items():
            assert fresh[paper][dataset] == pytest.approx(seconds, abs=0.3)


def test_reproject_refuses_a_json_without_a_needed_network(tmp_path, capsys):
    stored = json.loads(STORED.read_text(encoding="utf-8"))
    del stored["step_s"][bench_steps.UCNN_NET]
    path = tmp_path / "steps.json"
    text = json.dumps(stored)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"no step time of 'UCNN 28x28 \(paper widths\)'"):
        bench_steps.reproject(path)
    assert path.read_text(encoding="utf-8") == text          # nothing written
    needed = r"--reproject: .*UCNN 28x28 \(paper widths\).*mnist-test-04"
    with pytest.raises(SystemExit, match=needed):
        bench_steps.main(["--reproject", str(path)])
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="not a bench_steps --write-json file"):
        bench_steps.reproject(tmp_path / "bad.json")
