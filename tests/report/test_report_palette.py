"""One colour per method across figures and papers; tables legible; own axes; overview panels."""

import re
import shutil
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex

from repro.config import repo_root
from repro.report.figures import (plot_histories, plot_metric_vs_variant,
                                  plot_reported_vs_reproduced, render_paper_grid_png)
from repro.report.palette import FALLBACK, METHOD_COLORS, method_color, variant_shades
from repro.report.results import histories_frame

REPO = repo_root()
PAPERS = ("dqn", "gapdcec", "pqdec", "ucnn", "deepcluster")


def _comparison(methods, dataset="d", metric="acc", unit="%"):
    rows = [(m, 50.0 + i, 48.0 + i, 1.0, 2, "within") for i, m in enumerate(methods)]
    frame = pd.DataFrame(rows, columns=["method", "reported", "reproduced_mean",
                                        "reproduced_std", "n_seeds", "verdict"])
    return frame.assign(table="t1", dataset=dataset, metric=metric, unit=unit, variant="",
                        delta=frame["reproduced_mean"] - frame["reported"], note="")


def _bar_colors(figure, n_methods, panel=0):
    """Face colour of the reproduced bar of each method (x="method": one bar per method)."""
    ax = figure.axes[panel]
    solid = [p for p in ax.patches if p.get_hatch() is None]
    return [to_hex(p.get_facecolor()) for p in solid[:n_methods]]


def _paper_methods(paper):
    """Every method key a paper's YAML names (tables, claims, display labels)."""
    text = (REPO / "src/repro/papers" / f"{paper}.yaml").read_text()
    found = set(re.findall(r"\bmethod:\s*([A-Za-z0-9_\-]+)", text))
    raw = yaml.safe_load(text)
    found |= set((raw.get("display") or {}).get("methods", {}))
    found |= set(raw.get("claim_only_methods") or [])
    return found


def test_dec_has_one_colour_in_two_papers_figures(tmp_path):
    # GAPDCEC lists DEC second, PQDEC fourth, UCNN first: a colour by position would differ
    gapdcec = _comparison(["kmeans", "dec", "idec", "dcn", "dcec", "gapdcec"])
    pqdec = _comparison(["kmeans", "kmedoids", "kdkmeans", "dec", "bqdec", "pqdec"],
                        metric="time_s", unit="s")
    a = plot_reported_vs_reproduced(gapdcec, "acc", tmp_path / "a.png", title="x",
                                    x="method", dpi=30)
    b = plot_reported_vs_reproduced(pqdec, "time_s", tmp_path / "b.png", title="x",
                                    x="method", own_axes=True, dpi=30)
    colors_a, colors_b = _bar_colors(a, 6), _bar_colors(b, 6, panel=1)   # b: ours below
    assert colors_a[1] == colors_b[3] == method_color("dec")
    assert colors_a[0] == colors_b[0] == method_color("kmeans")
    # ... and the same in a line figure of a third paper (UCNN order: dec first)
    ucnn = _comparison(["dec", "cnn_cm", "ucnn"]).assign(variant="12")
    c = plot_metric_vs_variant(ucnn, "acc", tmp_path / "c.png", title="x", dpi=30)
    line = next(l for l in c.axes[0].get_lines() if l.get_label() == "dec")
    assert to_hex(line.get_color()) == method_color("dec")
    records = [{"dataset": "d", "method": m, "seed": 0, "iteration": i, "epoch": i, "acc": 0.5}
               for m in ("gapdcec", "dec") for i in range(3)]
    h = plot_histories(histories_frame(records), "d", "acc", tmp_path / "h.png", title="x",
                       dpi=30)
    line = next(l for l in h.axes[0].get_lines() if l.get_label().startswith("dec"))
    assert to_hex(line.get_color()) == method_color("dec")


def test_every_method_of_every_paper_has_a_fixed_colour_distinct_within_its_paper():
    for paper in PAPERS:
        named = _paper_methods(paper)
        results = REPO / "reports" / paper
        for path in results.glob("*/results.csv"):
            named |= set(pd.read_csv(path)["method"])
        assert named <= set(METHOD_COLORS), f"{paper}: no colour for {named - set(METHOD_COLORS)}"
        colors = [METHOD_COLORS[m] for m in sorted(named)]
        assert len(set(colors)) == len(colors), f"{paper}: two methods share a colour"
    assert method_color("dec") == METHOD_COLORS["dec"]


def test_unknown_keys_get_a_stable_fallback_and_variants_keep_the_hue():
    assert method_color("new_method") == FALLBACK[zlib.crc32(b"new_method") % len(FALLBACK)]
    assert method_color("new_method") == method_color("new_method")
    shades = variant_shades(method_color("pqdec"), 3)
    assert shades[1] == method_color("pqdec") and len(set(shades)) == 3


def test_own_axes_put_the_papers_numbers_and_ours_on_separate_panels(tmp_path):
    hours = _comparison(["dec", "ucnn"], metric="time", unit="h").assign(
        reported=[0.9, 1.2], reproduced_mean=[0.015, 0.0012], reproduced_std=[0.0003, 0.0001])
    figure = plot_reported_vs_reproduced(hours, "time", tmp_path / "t.png", title="run time",
                                         own_axes=True, reproduced_unit="s", dpi=30)
    paper, ours = figure.axes[:2]
    assert paper.get_ylabel() == "the paper:\ntime (h)"
    assert ours.get_ylabel() == "reproduced:\ntime (s)"
    heights = sorted(p.get_height() for p in ours.patches)
    assert heights == pytest.approx([4.32, 54.0])        # seconds, on their own axis
    assert sorted(p.get_height() for p in paper.patches) == pytest.approx([0.9, 1.2])


def _text_fits_cells(figure):
    renderer = figure.canvas.get_renderer()
    for ax in figure.axes:
        for table in ax.tables:
            for cell in table.get_celld().values():
                text = cell.get_text()
                if text.get_text():
                    box, inner = cell.get_window_extent(renderer), text.get_window_extent(renderer)
                    if not (box.x0 <= inner.x0 and inner.x1 <= box.x1 + 0.5
                            and box.y0 <= inner.y0 + 0.5 and inner.y1 <= box.y1 + 0.5):
                        return False
    return True


def test_a_wide_grid_is_drawn_in_blocks_with_every_text_inside_its_cell(tmp_path):
    rows = []
    for d in range(5):
        for bits in ("12", "24", "32", "48"):
            for m, method in enumerate(("ksh", "dqn", "dqn2plus")):
                rows.append((f"dataset-{d} (stand-in for a long name)", method, bits,
                             0.5 + 0.01 * m, 0.6, 0.005))
    frame = pd.DataFrame(rows, columns=["dataset", "method", "variant", "reported",
                                        "reproduced_mean", "reproduced_std"])
    frame = frame.assign(table="t1", metric="map", unit="fraction", n_seeds=2, verdict="deviates")
    figure = render_paper_grid_png(frame, tmp_path / "g.png", title="Table 1. " + "long " * 60,
                                   decimals={"map": 3}, dpi=100)
    width = figure.get_size_inches()[0]
    assert width <= 16.5                                   # legible at 100 %: at most ~1650 px
    assert len(figure.axes) > 1                            # several blocks
    for ax in figure.axes:                                 # each repeats the method column
        assert ax.tables[0].get_celld()[0, 0].get_text().get_text() == "method"
    columns = sum(max(c for _, c in ax.tables[0].get_celld()) for ax in figure.axes)
    assert columns == 20
    assert _text_fits_cells(figure)


def test_overview_has_one_panel_per_paper_and_unit(tmp_path, monkeypatch):
    for stage in ("gapdcec", "ucnn"):
        shutil.copytree(REPO / "reports" / stage / "quick", tmp_path / "reports" / stage / "quick")
    # UCNN's quick run has no comparable cell since JULE's check moved to the paper profile:
    # two synthetic ones (reproduced = reported + 0.01) give its fraction panel something to draw
    path = tmp_path / "reports" / "ucnn" / "quick" / "comparison.csv"
    comparison = pd.read_csv(path)
    rows = comparison.index[comparison.unit == "fraction"][:2]
    comparison.loc[rows, "reproduced_mean"] = comparison.loc[rows, "reported"] + 0.01
    comparison.loc[rows, ["verdict", "n_seeds"]] = ["inconclusive", 2]
    comparison.to_csv(path, index=False)
    from repro import summary
    from repro.report import figures

    drawn = []
    monkeypatch.setattr(figures, "save_png", lambda figure, path, dpi=100: drawn.append(figure))
    summary.overview_figure(summary.collect(tmp_path), tmp_path / "o.png")
    (figure,) = drawn
    shown = [ax for ax in figure.axes if ax.axison]
    units = {ax.get_xlabel() for ax in shown}
    assert units == {"reported (%)", "reported (fraction)"}
    for ax in shown:                      # every point inside its panel's limits
        for points in (c for c in ax.collections if isinstance(c, PathCollection)):
            xy = points.get_offsets()
            if len(xy):
                low, high = ax.get_xlim()
                assert np.all((low < xy) & (xy < high))
