"""GAPDCEC stage helpers that the report uses (the stage itself runs in tests/test_pipeline.py)."""
import numpy as np
import pandas as pd
import pytest

from repro.papers.gapdcec import clustering_phase_gain


def test_clustering_phase_gain_is_end_minus_start_of_each_run_averaged_over_seeds():
    rows = [
        # dataset, method, seed, iteration, acc (rows deliberately out of iteration order)
        ("d", "dec", 0, 280, 0.70), ("d", "dec", 0, 0, 0.60), ("d", "dec", 0, 140, 0.65),
        ("d", "dec", 1, 0, 0.50), ("d", "dec", 1, 140, 0.58),
        ("d", "kmeans", 0, 17, 0.55),  # one row: no clustering phase, left out
        ("d", "dcn", 0, 0, 0.40), ("d", "dcn", 0, 1, np.nan), ("d", "dcn", 0, 2, 0.38),
    ]
    frame = pd.DataFrame(rows, columns=["dataset", "method", "seed", "iteration", "acc"])
    gain = clustering_phase_gain(frame)
    assert list(gain.index) == [("d", "dec"), ("d", "dcn")]
    dec = gain.loc[("d", "dec")]
    assert dec["start"] == pytest.approx(0.55) and dec["end"] == pytest.approx(0.64)
    assert dec["gain"] == pytest.approx(0.09) and dec["seeds"] == 2
    assert gain.loc[("d", "dcn"), "gain"] == pytest.approx(-0.02)
    assert clustering_phase_gain(frame[frame.method == "kmeans"]).empty
