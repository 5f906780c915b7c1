"""REPRO_DEVICE: a GPU asked for and absent is a clear error, never a silent CPU run."""

import pytest

from repro.devices import DeviceError, check_device, compute_device, requested_device


def test_a_requested_gpu_that_the_backend_does_not_see_is_an_error(monkeypatch):
    monkeypatch.setattr("repro.report.provenance.backend_gpus", lambda backend, probe=True: [])
    monkeypatch.setenv("REPRO_DEVICE", "gpu")
    with pytest.raises(DeviceError, match="REPRO_DEVICE=gpu, but the Keras backend 'jax' sees no GPU"):
        check_device("jax")
    monkeypatch.setenv("REPRO_DEVICE", "auto")
    assert check_device("jax") == "CPU"


def test_the_device_used_names_the_gpu(monkeypatch):
    monkeypatch.setattr("repro.report.provenance.backend_gpus", lambda backend, probe=True: ["NVIDIA H200"])
    monkeypatch.delenv("REPRO_DEVICE", raising=False)
    assert compute_device("jax") == "GPU: NVIDIA H200"
    monkeypatch.setenv("REPRO_DEVICE", "gpu")
    assert check_device("jax") == "GPU: NVIDIA H200"


def test_unknown_device_names_the_choices(monkeypatch):
    monkeypatch.setenv("REPRO_DEVICE", "tpu")
    with pytest.raises(DeviceError, match="not one of auto, cpu, gpu"):
        requested_device()
