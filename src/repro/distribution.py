"""Data parallelism over every visible device (JAX backend): :func:`data_parallel`.

A user with more than one accelerator sets ``REPRO_DATA_PARALLEL=1``; :func:`data_parallel`
then installs ``keras.distribution.DataParallel`` over all devices the JAX backend sees, so
every ``fit`` / ``predict`` splits each batch across them (weights replicated, gradients
averaged). Nothing changes on one device or on another backend (TensorFlow's and torch's
multi-device paths are not Keras' ``keras.distribution`` API): the function says why it did
nothing.

A batch must split evenly over the devices: :func:`check_config_batches` names a batch size
that does not before training, instead of an XLA sharding error deep inside a step;
:func:`divisible_batch_size` rounds a batch size down to a multiple of the device count.

Tested on 2 virtual CPU devices (``XLA_FLAGS=--xla_force_host_platform_device_count=2``):
the losses of a few steps equal those of one device to float32 rounding
(``tests/test_distribution.py``).
"""

from __future__ import annotations

import os


class DistributionError(ValueError):
    """A batch that cannot be split evenly over the devices."""


def wanted() -> bool:
    """``REPRO_DATA_PARALLEL`` is set to 1 / true / yes."""
    return os.environ.get("REPRO_DATA_PARALLEL", "").strip().lower() in ("1", "true", "yes")


def data_parallel(min_devices: int = 2):
    """Install DataParallel over all devices (JAX, >= ``min_devices``); return (distribution
    or None, why)."""
    import keras

    backend = keras.backend.backend()
    if backend != "jax":
        return None, f"data parallelism needs the jax backend (this is {backend})"
    devices = keras.distribution.list_devices()
    if len(devices) < min_devices:
        return None, f"{len(devices)} device(s) visible: nothing to split over"
    distribution = keras.distribution.DataParallel(devices=devices)
    keras.distribution.set_distribution(distribution)
    return distribution, f"DataParallel over {len(devices)} devices: {', '.join(devices)}"


def device_count() -> int:
    """Devices the installed distribution splits batches over (1 without one)."""
    import keras

    distribution = keras.distribution.distribution()
    if distribution is None:
        return 1
    return int(distribution.device_mesh.devices.size)


def divisible_batch_size(batch_size: int, n_devices: int) -> int:
    """The largest multiple of ``n_devices`` not above ``batch_size`` (at least ``n_devices``)."""
    return max(n_devices, batch_size - batch_size % n_devices)


def check_config_batches(cfg, n_devices: int | None = None, where: str = "") -> None:
    """Every ``batch_size`` field of a stage config (dataclasses, nested; ``per_dataset``
    overrides included) splits evenly over the devices, or a :class:`DistributionError` naming
    the dotted key -- before any training starts."""
    import dataclasses

    n = device_count() if n_devices is None else n_devices
    if n <= 1:
        return
    items = (((f.name, getattr(cfg, f.name)) for f in dataclasses.fields(cfg))
             if dataclasses.is_dataclass(cfg) else cfg.items() if isinstance(cfg, dict) else ())
    for name, value in items:
        key = f"{where}.{name}" if where else str(name)
        if name == "batch_size" and isinstance(value, int) and value % n:
            raise DistributionError(f"{key} = {value} does not split over {n} devices; use a "
                                    f"multiple of {n} (e.g. {divisible_batch_size(value, n)})")
        if dataclasses.is_dataclass(value) or isinstance(value, dict):
            check_config_batches(value, n, key)
