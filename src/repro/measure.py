"""Speed and memory of one call, measured the same way for every method (PQDEC Table 1).

Table 1 of the PQDEC paper reports "clustering speed (in secs)" for 10 epochs and "memory
consumption (in MB)" without saying how either was measured. This module fixes ONE definition
and applies it to numpy, faiss and Keras code alike:

* **seconds**: wall-clock time of the call, ``time.perf_counter`` (includes everything the
  call does: Python, BLAS threads, faiss/OpenMP threads, TensorFlow kernels).
* **peak_mb**: peak resident set size (RSS) of the whole process while the call runs, minus
  the RSS just before it (after ``gc.collect()``), in MB = 2**20 bytes (MiB). RSS is what the
  operating system attributes to the process, so it counts memory of every allocator (numpy,
  faiss, TensorFlow's BFC allocator, ...) in every thread.

Caveats, stated so that numbers are read correctly:

* RSS is *sampled* by a background thread (psutil) every ``interval_s`` seconds (default
  2 ms) plus once at the end; an allocation that lives for less than one interval can be
  missed, so the peak is a lower bound for very short spikes.
* Memory that was freed but not returned to the OS (allocator caches, TensorFlow's memory
  pool, pages of the Python heap) still counts; memory the call releases before its end
  does count at its peak. Memory allocated but never touched (lazy pages) does not count.
* Memory already resident before the call (the data set, an imported framework) is in the
  baseline and is subtracted. Accelerator (GPU) memory is not RSS and is not counted.
* peak_mb can be slightly negative if the call frees memory held before it.

Usage::

    m = measure(KMedoids(10, cfg).fit, x, seed=0)
    m.result, m.seconds, m.peak_mb

    with MemoryMeter() as meter:
        ...
    meter.seconds, meter.peak_mb
"""
from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import psutil

BYTES_PER_MB = 2**20
DEFAULT_INTERVAL_S = 0.002
SAMPLER_THREAD_NAME = "repro-memory-meter"


@dataclass(frozen=True)
class Measurement:
    """One measured call.

    Attributes:
        result: what the call returned.
        seconds: wall-clock seconds of the call (time.perf_counter).
        peak_mb: peak RSS during the call minus ``baseline_mb`` (MB = 2**20 bytes).
        baseline_mb: RSS just before the call, after gc.collect() (MB).
    """

    result: Any
    seconds: float
    peak_mb: float
    baseline_mb: float


class MemoryMeter:
    """Context manager: wall time and peak RSS above the entry baseline of its block.

    A background daemon thread samples the process RSS every ``interval_s`` seconds; one more
    sample is taken on exit. Meters may be nested or used one after another; each has its own
    thread, which is always stopped on exit, also when the block raises (the exception
    propagates unchanged). Attributes (valid after exit): ``seconds``, ``peak_mb``,
    ``baseline_mb``, ``n_samples``.
    """

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0 seconds, got {interval_s!r}")
        self.interval_s = float(interval_s)
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._baseline_bytes = 0
        self._peak_bytes = 0
        self._start = 0.0
        self.seconds = float("nan")
        self.n_samples = 0

    def _sample(self) -> None:
        rss = self._process.memory_info().rss
        self.n_samples += 1
        if rss > self._peak_bytes:
            self._peak_bytes = rss

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self) -> "MemoryMeter":
        if self._thread is not None:
            raise RuntimeError("a MemoryMeter can be entered only once; create a new one")
        gc.collect()
        self._baseline_bytes = self._peak_bytes = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._run, name=SAMPLER_THREAD_NAME, daemon=True)
        self._thread.start()
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.seconds = time.perf_counter() - self._start
        self._stop.set()
        self._thread.join()
        self._sample()  # final sample (after join: one writer at a time): memory held at the end
        return False

    @property
    def baseline_mb(self) -> float:
        """RSS at entry (after gc.collect()), MB."""
        return self._baseline_bytes / BYTES_PER_MB

    @property
    def peak_mb(self) -> float:
        """Highest sampled RSS minus the entry RSS, MB (2**20 bytes)."""
        return (self._peak_bytes - self._baseline_bytes) / BYTES_PER_MB

    @property
    def sampling(self) -> bool:
        """True while the sampler thread is running."""
        return self._thread is not None and self._thread.is_alive()


def measure(fn: Callable[..., Any], *args: Any, interval_s: float = DEFAULT_INTERVAL_S,
            **kwargs: Any) -> Measurement:
    """Call ``fn(*args, **kwargs)`` once and return its result with wall time and peak memory.

    ``interval_s`` (keyword-only, consumed here) is the RSS sampling interval. Exceptions
    raised by ``fn`` propagate; the sampler thread is stopped first.
    """
    if not callable(fn):
        raise TypeError(f"measure() needs a callable as first argument, got {type(fn).__name__}")
    with MemoryMeter(interval_s=interval_s) as meter:
        result = fn(*args, **kwargs)
    return Measurement(result=result, seconds=meter.seconds, peak_mb=meter.peak_mb,
                       baseline_mb=meter.baseline_mb)
