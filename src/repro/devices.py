"""Which device a run computes on, and a clear error when the one asked for is absent.

``REPRO_DEVICE`` names what the user asked for: ``auto`` (default: whatever the Keras
backend picks), ``cpu`` (GPUs hidden from the backend) or ``gpu``. A run asked to use a GPU
that the backend does not see fails before any work with :class:`DeviceError`, instead of
silently training on the CPU.
The device actually used (``"CPU"`` or ``"GPU: <name>, ..."``) goes into the provenance.
"""

from __future__ import annotations

import os

CHOICES = ("auto", "cpu", "gpu")


class DeviceError(RuntimeError):
    """The device asked for (REPRO_DEVICE) is not available to the Keras backend."""


def requested_device() -> str:
    """REPRO_DEVICE, checked: auto | cpu | gpu."""
    value = os.environ.get("REPRO_DEVICE", "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise DeviceError(f"REPRO_DEVICE={value!r} is not one of {', '.join(CHOICES)}")
    return value


def compute_device(backend: str) -> str:
    """The device the backend computes on: "CPU" or "GPU: <names>" (from the backend itself)."""
    from repro.report.provenance import backend_gpus

    gpus = backend_gpus(backend)
    if isinstance(gpus, str):  # an error or an unknown backend: say so
        return f"unknown ({gpus})"
    if not gpus:
        return "CPU"
    return "GPU: " + ", ".join(gpus)


def apply_device_request() -> None:
    """REPRO_DEVICE=cpu hides the GPUs from every backend (CUDA_VISIBLE_DEVICES="" and
    JAX_PLATFORMS=cpu); it must run before the backend is imported, and says so if too late."""
    import sys

    if requested_device() != "cpu":
        return
    if any(name in sys.modules for name in ("tensorflow", "jax", "torch")):
        raise DeviceError("REPRO_DEVICE=cpu must be set before Keras' backend is imported "
                          "(set it in the environment of the run)")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ["JAX_PLATFORMS"] = "cpu"


def check_device(backend: str) -> str:
    """:func:`compute_device`, after checking that a requested GPU is there."""
    used = compute_device(backend)
    if requested_device() == "gpu" and not used.startswith("GPU"):
        raise DeviceError(
            f"REPRO_DEVICE=gpu, but the Keras backend {backend!r} sees no GPU ({used}). Install "
            "the GPU requirements (make setup-gpu) and check the CUDA driver, or unset "
            "REPRO_DEVICE to run on the CPU.")
    return used
