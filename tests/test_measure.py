"""measure / MemoryMeter: known allocations and sleeps are measured; threads always stop."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from repro.measure import BYTES_PER_MB, SAMPLER_THREAD_NAME, Measurement, MemoryMeter, measure

ALLOC_MB = 200


def _hold_ones(mb: int, seconds: float) -> int:
    """Allocate ``mb`` MB of float64 ones (np.ones writes, so every page is touched), hold it."""
    block = np.ones(mb * BYTES_PER_MB // 8)
    time.sleep(seconds)
    return int(block.size)


def _sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == SAMPLER_THREAD_NAME]


def test_known_allocation_is_measured_within_ten_percent():
    m = measure(_hold_ones, ALLOC_MB, 0.2)
    assert isinstance(m, Measurement)
    assert m.result == ALLOC_MB * BYTES_PER_MB // 8
    assert m.peak_mb == pytest.approx(ALLOC_MB, rel=0.10)
    assert m.baseline_mb > 0


def test_allocation_freed_before_return_still_counts_at_its_peak():
    def allocate_then_free():
        _hold_ones(ALLOC_MB, 0.2)  # block is gone when this returns
        time.sleep(0.05)

    m = measure(allocate_then_free)
    assert m.peak_mb == pytest.approx(ALLOC_MB, rel=0.10)


def test_no_allocation_gives_near_zero():
    m = measure(time.sleep, 0.05)
    assert abs(m.peak_mb) < 10


def test_known_sleep_is_timed():
    m = measure(time.sleep, 0.3)
    assert m.result is None
    assert 0.3 <= m.seconds < 0.4  # generous upper bound: 2 shared cores


def test_kwargs_are_passed_and_interval_is_consumed():
    m = measure(lambda a, *, b: a + b, 2, b=3, interval_s=0.005)
    assert m.result == 5


def test_context_manager_form_and_nesting():
    with MemoryMeter() as outer:
        with MemoryMeter(interval_s=0.003) as inner:
            block = np.ones(100 * BYTES_PER_MB // 8)
            time.sleep(0.1)
        time.sleep(0.05)
        del block
    assert inner.peak_mb == pytest.approx(100, rel=0.10)
    assert outer.peak_mb == pytest.approx(100, rel=0.10)
    assert outer.seconds >= inner.seconds + 0.05
    assert inner.n_samples > 5
    assert not outer.sampling and not inner.sampling


def test_sequential_meters_are_independent():
    first = measure(_hold_ones, 100, 0.1)
    second = measure(time.sleep, 0.05)
    assert first.peak_mb == pytest.approx(100, rel=0.10)
    assert abs(second.peak_mb) < 10  # the first meter's peak does not leak into the second
    assert _sampler_threads() == []


def test_exception_propagates_and_sampler_stops():
    def boom():
        time.sleep(0.02)
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        measure(boom)
    meter = MemoryMeter()
    with pytest.raises(ZeroDivisionError):
        with meter:
            1 / 0
    assert not meter.sampling
    assert _sampler_threads() == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="interval_s"):
        MemoryMeter(interval_s=0)
    with pytest.raises(TypeError, match="callable"):
        measure(42)
    meter = MemoryMeter()
    with meter:
        pass
    with pytest.raises(RuntimeError, match="only once"):
        with meter:
            pass
