"""Data parallelism on 2 virtual CPU devices (JAX): same losses as one device; batches that do
not split are a clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from repro.distribution import DistributionError, check_batches, divisible_batch_size

pytest.importorskip("jax")

TRAIN = r"""
import json, os, numpy as np, keras
from repro.distribution import data_parallel, check_batches
dist, why = data_parallel() if os.environ.get("PARALLEL") else (None, "one device")
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 12)).astype("float32"); y = rng.normal(size=(64, 3)).astype("float32")
model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(3)])
model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
check_batches(len(x), 16)
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


def test_batches_that_do_not_split_are_named():
    check_batches(64, 16, n_devices=2)
    with pytest.raises(DistributionError, match="batch size 15 does not split over 2 devices"):
        check_batches(60, 15, n_devices=2)
    with pytest.raises(DistributionError, match="last batch of an epoch holds 5 of 69"):
        check_batches(69, 16, n_devices=2)
    assert divisible_batch_size(15, 2) == 14 and divisible_batch_size(3, 4) == 4
