import struct

import numpy as np
import pandas as pd
import pytest

from repro.report.compare import compare
from repro.report.figures import plot_histories, plot_reported_vs_reproduced, render_table_png


def _png_size(path):
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_reported_vs_reproduced_bars(tmp_path, toy_paper, toy_results):
    comparison = compare(toy_paper, toy_results)
    path = tmp_path / "acc.png"
    plot_reported_vs_reproduced(comparison, "acc", path, title="Datasets vs ACC",
                                labels=toy_paper.labels(), figsize=(6, 4), dpi=50)
    assert _png_size(path) == (300, 200)
    path = tmp_path / "sec.png"                     # x = method (PQDEC-style speed bars)
    plot_reported_vs_reproduced(comparison, "sec", path, title="speed", x="method", dpi=40)
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="'map'"):
        plot_reported_vs_reproduced(comparison, "map", tmp_path / "x.png", title="x")


def test_histories(tmp_path):
    epochs = np.arange(5)
    frame = pd.DataFrame([{"dataset": "d", "method": m, "seed": s, "iteration": e * 140,
                           "epoch": float(e), "acc": 0.5 + 0.05 * e + 0.01 * s}
                          for m in ("dec", "dcec") for s in range(3) for e in epochs])
    frame.loc[len(frame)] = {"dataset": "d", "method": "kmeans", "seed": 0, "iteration": 0,
                             "epoch": 0.0, "acc": np.nan}
    path = tmp_path / "h.png"
    plot_histories(frame, "d", "acc", path, title="Epochs vs ACC", value_unit="fraction",
                   display_unit="%", band="std", figsize=(5, 3), dpi=40)
    assert _png_size(path) == (200, 120)
    # a method with one value (K-means) is a dashed reference line, the others are curves
    frame.loc[len(frame)] = {"dataset": "d", "method": "kmeans", "seed": 1, "iteration": 0,
                             "epoch": 0.0, "acc": 0.55}
    figure = plot_histories(frame, "d", "acc", tmp_path / "k.png", title="x", figsize=(5, 3), dpi=40)
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert lines["kmeans (n=1, final value)"].get_linestyle() == "--"
    assert list(lines["kmeans (n=1, final value)"].get_ydata()) == [0.55, 0.55]
    assert len(lines["dec (n=3)"].get_xdata()) == 5
    with pytest.raises(ValueError, match="'usps'"):
        plot_histories(frame, "usps", "acc", tmp_path / "x.png", title="x")
    with pytest.raises(ValueError, match="'nmi'"):
        plot_histories(frame, "d", "nmi", tmp_path / "x.png", title="x")


def test_table_png(tmp_path, toy_paper, toy_results):
    comparison = compare(toy_paper, toy_results, {("d2", "*"): "not run: a long note " * 5})
    path = tmp_path / "t.png"
    render_table_png(comparison, path, title="Table 1", dpi=40)
    width, height = _png_size(path)
    assert 200 < width < 40 * 30 and height > 7 * 0.22 * 40
