"""Data parallelism on 2 virtual CPU devices (JAX): same losses as one device; batches that do
not split are a clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from repro.distribution import DistributionError, divisible_batch_size

pytest.importorskip("jax")

TRAIN = r"""
import json, os, numpy as np, keras
from repro.distribution import data_parallel
dist, why = data_parallel() if os.environ.get("PARALLEL") else (None, "one device")
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 12)).astype("float32"); y = rng.normal(size=(64, 3)).astype("float32")
model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(3)])
model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
losses = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
print(json.dumps({"why": why, "devices": len(keras.distribution.list_devices()), "losses": losses}))
"""


def _train(parallel: bool) -> dict:
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    if parallel:
        env["PARALLEL"] = "1"
    done = subprocess.run([sys.executable, "-c", TRAIN], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_devices_give_the_losses_of_one():
    one, two = _train(False), _train(True)
    assert two["devices"] == 2 and two["why"].startswith("DataParallel over 2 devices")
    # the same model, data and order: only the summation order of the gradients differs
    assert two["losses"] == pytest.approx(one["losses"], rel=1e-5, abs=1e-6)


def test_divisible_batch_size_rounds_down_to_a_multiple_of_the_devices():
    assert divisible_batch_size(15, 2) == 14 and divisible_batch_size(3, 4) == 4


def test_config_batch_sizes_are_checked_before_training_by_dotted_key():
    from dataclasses import dataclass, field

    from repro.distribution import check_config_batches

    @dataclass
    class Head:
        batch_size: int = 64

    @dataclass
    class Cfg:
        head: Head = field(default_factory=Head)
        per_dataset: dict = field(default_factory=dict)

    check_config_batches(Cfg(), n_devices=2)
    check_config_batches(Cfg(head=Head(batch_size=3)), n_devices=1)   # one device: anything goes
    with pytest.raises(DistributionError, match=r"head.batch_size = 50 does not split over 4"):
        check_config_batches(Cfg(head=Head(batch_size=50)), n_devices=4)
    with pytest.raises(DistributionError, match=r"per_dataset.usps.head.batch_size = 7"):
        check_config_batches(Cfg(per_dataset={"usps": {"head": {"batch_size": 7}}}), n_devices=2)


RUNNER = r"""
import json, sys, types
from dataclasses import dataclass, field
from typing import ClassVar
import numpy as np
from repro.papers import runner
from repro.papers._common import StageConfig

@dataclass
class Config(StageConfig):
    datasets: tuple = ("blobs",)
    seeds: tuple = (0,)
    methods: tuple = ("fit",)
    batch_size: int = 16
    per_dataset: dict = field(default_factory=dict)
    PAPER: ClassVar[str] = "fakefit"
    KNOWN_DATASETS: ClassVar[tuple] = ("blobs",)
    KNOWN_METHODS: ClassVar[tuple] = ("fit",)
    def __post_init__(self): self.validate()

def run_cell(cell):
    import keras
    x = cell.data.x
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    model.compile(optimizer="sgd", loss="mse")
    loss = model.fit(x, x[:, :4], batch_size=cell.cfg.batch_size, epochs=1, verbose=0).history["loss"][-1]
    cell.record("loss", float(loss), unit="fraction")

rng = np.random.default_rng(0)   # synthetic inputs for a training step, not a dataset
module = types.SimpleNamespace(PAPER="fakefit", Config=Config, run_cell=run_cell, REPORTED=sys.argv[2],
                               load_data=lambda name: types.SimpleNamespace(
                                   x=rng.normal(size=(64, 8)).astype("float32"), y=np.zeros(64, int), files={}))
root = sys.argv[3]
try:
    out = runner.run(module, "smoke", params_path=sys.argv[1], report_dir=root + "/r",
                     figure_dir=root + "/f", log_file=False)
    print(json.dumps({"parallel": out.provenance["extra"]["data_parallel"]}))
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
"""
REPORTED = {"paper": "fakefit", "title": "A fake paper", "source": "none.txt", "tables": {
    "table1": {"caption": "Table 1", "results": [
        {"dataset": "blobs", "method": "fit", "metric": "loss", "value": 1.0, "unit": "fraction"}]}}}


def _run_stage(tmp_path, batch: int) -> dict:
    import yaml

    params, reported = tmp_path / "params.yaml", tmp_path / "fakefit.yaml"
    params.write_text(yaml.safe_dump({"profile": "smoke", "fakefit": {
        "base": {"batch_size": batch}, "profiles": {"smoke": {}, "paper": {}}}}))
    reported.write_text(yaml.safe_dump(REPORTED))
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "REPRO_DATA_PARALLEL": "1"}
    done = subprocess.run([sys.executable, "-c", RUNNER, str(params), str(reported), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_runner_trains_a_stage_under_data_parallel_when_asked(tmp_path):
    out = _run_stage(tmp_path, 16)
    assert out.get("parallel", "").startswith("DataParallel over 2 devices"), out


def test_the_runner_names_a_batch_size_that_does_not_split_before_training(tmp_path):
    out = _run_stage(tmp_path, 15)
    assert out.get("error", "").startswith("DistributionError: batch_size = 15 does not split over 2"), out
