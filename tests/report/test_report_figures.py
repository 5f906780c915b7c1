import struct

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.container import ErrorbarContainer

from repro.report.compare import compare
from repro.report.figures import (CELL_COLORS, plot_histories, plot_metric_vs_variant,
                                  plot_reported_vs_reproduced, render_paper_grid_png,
                                  render_table_png)
from repro.report.results import histories_frame


def _png_size(path):
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def _legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def _error_bar_count(ax):
    """Number of error bars drawn (segments of every errorbar container)."""
    return sum(len(c.lines[2][0].get_segments()) for c in ax.containers
               if isinstance(c, ErrorbarContainer))


def _without_variant(frame):
    return frame.drop(columns=["variant"], errors="ignore")


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


@pytest.mark.parametrize("variant_column", [True, False])
def test_bars_error_bars_only_where_several_seeds(tmp_path, toy_paper, toy_results,
                                                  variant_column):
    comparison = compare(toy_paper, toy_results)
    comparison = comparison if variant_column else _without_variant(comparison)
    figure = plot_reported_vs_reproduced(comparison, "acc", tmp_path / "a.png", title="ACC",
                                         profile="quick", dpi=30)
    ax = figure.axes[0]
    assert _error_bar_count(ax) == 2                # d1: a (n=3), c (n=2); not b (n=1)
    assert "reproduced (mean ± std over seeds)" in _legend_texts(ax)
    assert ax.get_title() == "ACC  [quick profile, n=3 seeds]"
    single = comparison[comparison["method"] == "b"]
    figure = plot_reported_vs_reproduced(single, "acc", tmp_path / "b.png", title="ACC", dpi=30)
    assert _error_bar_count(figure.axes[0]) == 0
    assert "reproduced (n=1)" in _legend_texts(figure.axes[0])
    assert figure.axes[0].get_title() == "ACC"      # no profile: title unchanged


def test_bars_mark_cells_not_run(tmp_path, toy_paper, toy_results):
    comparison = compare(toy_paper, toy_results)   # d2 has no reproduced number at all
    figure = plot_reported_vs_reproduced(comparison, "acc", tmp_path / "a.png", title="ACC",
                                         labels={"d1": "Data 1"}, log_y=True, dpi=30)
    ax = figure.axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["Data 1", "d2 (not run)"]
    markers = [t for t in ax.texts if t.get_text() == "not run"]
    assert len(markers) == 2                        # d2: methods a and b
    for marker in markers:                          # at the axis bottom, also on a log axis
        assert marker.get_position()[1] == pytest.approx(0.02)
        assert marker.get_rotation() == 90
        display = marker.get_transform().transform(marker.get_position())
        low, high = ax.transAxes.transform([(0, 0), (0, 1)])[:, 1]
        assert low <= display[1] <= low + 0.1 * (high - low)
    figure = plot_reported_vs_reproduced(comparison, "acc", tmp_path / "m.png", title="x",
                                         x="method", dpi=30)
    ticks = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert ticks == ["a", "b", "c"]                 # every method ran somewhere


def test_missing_cells_a_partial_run_left_pending_say_pending(tmp_path, toy_paper, toy_results):
    # d2: method a pending (a partial run's plan has it), b not run (not in the plan)
    comparison = compare(toy_paper, toy_results, pending={("d2", "a"): "pending: seed 0"})
    assert dict(zip(comparison.loc[comparison["dataset"] == "d2", "method"],
                    comparison.loc[comparison["dataset"] == "d2", "verdict"])) == {
        "a": "pending", "b": "not run"}
    figure = plot_reported_vs_reproduced(comparison, "acc", tmp_path / "a.png", title="ACC",
                                         dpi=30)
    ax = figure.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["not run", "pending"]
    assert [t.get_text() for t in ax.get_xticklabels()][1] == "d2 (not run)"   # not all pending
    only_a = comparison[comparison["method"] != "b"]
    figure = plot_reported_vs_reproduced(only_a, "acc", tmp_path / "b.png", title="ACC", dpi=30)
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()][1] == "d2 (pending)"
    figure = render_paper_grid_png(comparison, tmp_path / "grid.png", title="T", dpi=30)
    cells = figure.axes[0].tables[0].get_celld()
    text = {key: cell.get_text().get_text() for key, cell in cells.items()}
    row_a = next(r for r in range(1, 4) if text[r, 0] == "a")
    row_b = next(r for r in range(1, 4) if text[r, 0] == "b")
    column = next(c for c in range(4) if text[0, c] == "d2 acc")
    assert text[row_a, column].startswith("pending (")
    assert text[row_b, column].startswith("not run (")
    assert cells[row_a, column].get_facecolor() == to_rgba(CELL_COLORS["pending"])


def test_bars_variants_are_separate_groups(tmp_path):
    comparison = _variant_comparison()
    figure = plot_reported_vs_reproduced(comparison, "acc", tmp_path / "v.png", title="x", dpi=30)
    legend = _legend_texts(figure.axes[0])
    assert legend[:5] == ["kmeans", "pqdec 12", "pqdec 24", "pqdec 32", "pqdec 48"]
    figure = plot_reported_vs_reproduced(comparison, "acc", tmp_path / "w.png", title="x",
                                         x="method", dpi=30)
    ticks = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert ticks[:3] == ["kmeans", "pqdec 12", "pqdec 24"]


def _stage_histories(n_seeds=2):
    """Histories as the stage writes them: K-means one row per seed with epoch None and its
    iteration count; DEC one row per half epoch."""
    records = []
    for seed in range(n_seeds):
        records.append({"dataset": "d", "method": "kmeans", "seed": seed,
                        "iteration": 17 + 5 * seed, "epoch": None, "acc": 0.50 + 0.02 * seed,
                        "nmi": 0.4, "loss": None})
        for step in range(5):
            records.append({"dataset": "d", "method": "dec", "seed": seed,
                            "iteration": 140 * step, "epoch": 0.5 * step,
                            "acc": 0.55 + 0.05 * step + 0.01 * seed, "nmi": 0.5,
                            "loss": 1.0 / (1 + step)})
    return histories_frame(records)


def test_histories(tmp_path):
    frame = _stage_histories()
    assert frame.loc[frame["method"] == "kmeans", "epoch"].isna().all()
    path = tmp_path / "h.png"
    figure = plot_histories(frame, "d", "acc", path, title="Epochs vs ACC",
                            value_unit="fraction", display_unit="%", band="std",
                            profile="quick", figsize=(5, 3), dpi=40)
    assert _png_size(path) == (200, 120)
    ax = figure.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    # K-means (no epoch) is a dashed reference line at the mean over seeds, in the display unit
    kmeans = lines["kmeans (n=2, final value)"]
    assert kmeans.get_linestyle() == "--"
    assert list(kmeans.get_ydata()) == pytest.approx([51.0, 51.0])
    assert list(lines["dec (n=2)"].get_xdata()) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert list(lines["dec (n=2)"].get_ydata()) == pytest.approx([55.5, 60.5, 65.5, 70.5, 75.5])
    assert ax.get_title() == "Epochs vs ACC  [quick profile, n=2 seeds]"
    assert ax.get_legend().get_title().get_text() == "mean, band = ± std over seeds"
    # loss: K-means logs none (NaN rows skipped), DEC is a curve
    figure = plot_histories(frame, "d", "loss", tmp_path / "l.png", title="loss", dpi=30)
    assert [line.get_label() for line in figure.axes[0].get_lines()] == ["dec (n=2)"]
    with pytest.raises(ValueError, match="'usps'"):
        plot_histories(frame, "usps", "acc", tmp_path / "x.png", title="x")
    with pytest.raises(ValueError, match="'f1'"):
        plot_histories(frame, "d", "f1", tmp_path / "x.png", title="x")
    with pytest.raises(ValueError, match="band"):
        plot_histories(frame, "d", "acc", tmp_path / "x.png", title="x", band="iqr")


def test_histories_single_seed_and_single_epoch(tmp_path):
    frame = _stage_histories(n_seeds=1)
    figure = plot_histories(frame, "d", "acc", tmp_path / "h.png", title="x", profile="smoke",
                            dpi=30)
    ax = figure.axes[0]
    assert ax.get_legend().get_title().get_text() == "single seed"
    assert ax.get_title() == "x  [smoke profile, n=1 seeds]"
    assert not ax.collections                       # no band for one seed
    figure = plot_histories(_stage_histories(), "d", "acc", tmp_path / "m.png", title="x", dpi=30)
    assert figure.axes[0].get_legend().get_title().get_text() == "mean, band = min-max over seeds"
    # a method logged at a single epoch value is a reference line too (last value per seed)
    frame = pd.DataFrame([{"dataset": "d", "method": "km", "seed": s, "iteration": i,
                           "epoch": 0.0, "acc": 0.1 * i + s} for s in range(2) for i in (1, 2)])
    figure = plot_histories(frame, "d", "acc", tmp_path / "k.png", title="x", dpi=30)
    (line,) = figure.axes[0].get_lines()
    assert line.get_label() == "km (n=2, final value)"
    assert list(line.get_ydata()) == pytest.approx([0.7, 0.7])


def test_histories_variants_are_separate_lines(tmp_path):
    frame = _stage_histories()
    frame = pd.concat([frame.assign(variant="12"), frame.assign(variant="24")])
    frame.loc[frame["method"] == "kmeans", "variant"] = np.nan
    frame = frame.drop_duplicates(["method", "seed", "iteration", "variant"])
    figure = plot_histories(frame, "d", "acc", tmp_path / "v.png", title="x", dpi=30)
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert labels == ["kmeans (n=2, final value)", "dec 12 (n=2)", "dec 24 (n=2)"]


def test_table_png(tmp_path, toy_paper, toy_results):
    comparison = compare(toy_paper, toy_results, {("d2", "*"): "not run: a long note " * 5})
    path = tmp_path / "t.png"
    figure = render_table_png(comparison, path, title="Table 1", dpi=40)
    width, height = _png_size(path)
    assert 200 < width < 40 * 30 and height > 7 * 0.22 * 40
    cells = figure.axes[0].tables[0].get_celld()
    verdict = list(comparison.columns).index("verdict")
    # a: 82 ± 2 over 3 seeds against 81, tolerance 2: the 95% interval straddles the tolerance
    assert comparison.loc[0, "verdict"] == "inconclusive"
    assert cells[1, verdict].get_facecolor() == to_rgba(CELL_COLORS["inconclusive"])


@pytest.mark.parametrize("variant_column", [True, False])
def test_paper_grid(tmp_path, toy_paper, toy_results, variant_column):
    comparison = compare(toy_paper, toy_results)
    comparison = comparison if variant_column else _without_variant(comparison)
    path = tmp_path / "grid.png"
    figure = render_paper_grid_png(comparison, path, title="Table 1", labels={"a": "Method A"},
                                   decimals={"sec": 2}, profile="quick", dpi=40)
    assert path.stat().st_size > 1000
    ax = figure.axes[0]
    assert ax.get_title(loc="left") == "Table 1  [quick profile, n=3 seeds]"
    cells = ax.tables[0].get_celld()
    text = {key: cell.get_text().get_text() for key, cell in cells.items()}
    # rows: header + methods a, b, c; columns: method + d1 acc, d1 sec, d2 acc (the
    # unreported d1 nmi is left out)
    assert max(r for r, _ in cells) + 1 == 4 and max(c for _, c in cells) + 1 == 4
    assert [text[0, c] for c in range(4)] == ["method", "d1 acc", "d1 sec", "d2 acc"]
    assert [text[r, 0] for r in range(1, 4)] == ["Method A", "b", "c"]
    assert text[1, 1] == "82.0 ± 2.0 (81.0)"
    assert text[2, 1] == "70.0 (75.0)"              # one seed: no spread
    assert text[1, 2] == "30.00 (12.50)"
    assert text[1, 3] == "not run (60.0)"
    assert text[3, 3] == ""                         # c on d2: not in the paper
    # a (3 seeds, wide interval) and b (one seed: no noise estimate) are inconclusive
    assert cells[1, 1].get_facecolor() == to_rgba(CELL_COLORS["inconclusive"])
    assert cells[2, 1].get_facecolor() == to_rgba(CELL_COLORS["inconclusive"])
    assert cells[1, 3].get_facecolor() == to_rgba(CELL_COLORS["not run"])


def test_paper_grid_variant_columns(tmp_path):
    figure = render_paper_grid_png(_variant_comparison(), tmp_path / "g.png", title="T", dpi=30)
    cells = figure.axes[0].tables[0].get_celld()
    header = [cells[0, c].get_text().get_text() for c in range(6)]
    assert header == ["method", "mnist acc", "mnist acc 12", "mnist acc 24", "mnist acc 32",
                      "mnist acc 48"]
    assert max(r for r, _ in cells) + 1 == 4        # header + kmeans, pqdec, bqdec
    with pytest.raises(ValueError, match="reported"):
        render_paper_grid_png(_variant_comparison().assign(reported=np.nan), tmp_path / "x.png",
                              title="T")


def _variant_comparison():
    """A hand-made comparison with a code-length variant (PQDEC-style), acc in %."""
    rows = [("kmeans", "", 53.0, 52.0, np.nan, 1, "within")]
    for bits, paper, mean in [("12", 60.0, 58.0), ("24", 65.0, 61.0), ("32", 70.0, np.nan),
                              ("48", 72.0, 69.0)]:
        rows.append(("pqdec", bits, paper, mean, 1.5, 3 if np.isfinite(mean) else 0,
                     "deviates" if np.isfinite(mean) else "not run"))
    rows += [("bqdec", bits, 40.0, np.nan, np.nan, 0, "not run") for bits in ("12", "24")]
    frame = pd.DataFrame(rows, columns=["method", "variant", "reported", "reproduced_mean",
                                        "reproduced_std", "n_seeds", "verdict"])
    frame.loc[frame["n_seeds"] == 0, "reproduced_std"] = np.nan
    return frame.assign(table="t1", dataset="mnist", metric="acc", unit="%",
                        delta=frame["reproduced_mean"] - frame["reported"], note="")


def test_metric_vs_variant(tmp_path):
    comparison = _variant_comparison()
    path = tmp_path / "bits.png"
    figure = plot_metric_vs_variant(comparison, "acc", path, title="ACC vs code length",
                                    dataset="mnist", labels={"pqdec": "PQDEC"},
                                    variant_label="bits", profile="quick", dpi=40)
    assert path.stat().st_size > 1000
    (ax,) = figure.axes
    assert ax.get_title() == "ACC vs code length  [quick profile, n=3 seeds]"
    assert ax.get_xlabel() == "bits"
    lines = ax.get_lines()
    solid = {line.get_label(): line for line in lines if line.get_linestyle() == "-"
             and line.get_marker() == "o"}
    dashed = [line for line in lines if line.get_linestyle() == "--"]
    assert set(solid) == {"PQDEC", "bqdec (not run)"}
    assert len(dashed) == 3                         # paper: kmeans level, PQDEC, bqdec
    pqdec = solid["PQDEC"]
    assert list(pqdec.get_xdata()) == [12.0, 24.0, 48.0]   # 32 not run: left out
    assert list(pqdec.get_ydata()) == [58.0, 61.0, 69.0]
    paper = next(line for line in dashed if line.get_color() == pqdec.get_color())
    assert list(paper.get_xdata()) == [12.0, 24.0, 32.0, 48.0]
    assert paper.get_markerfacecolor() == "none"
    assert list(ax.get_xticks()) == [12.0, 24.0, 32.0, 48.0]
    assert _error_bar_count(ax) == 3                # PQDEC points with n=3
    legend = _legend_texts(ax)
    assert legend[:3] == ["kmeans", "PQDEC", "bqdec (not run)"]
    assert "reproduced (mean ± std over seeds)" in legend
    with pytest.raises(ValueError, match="'nmi'"):
        plot_metric_vs_variant(comparison, "nmi", tmp_path / "x.png", title="x")
    with pytest.raises(ValueError, match="'acc'.*'usps'"):
        plot_metric_vs_variant(comparison, "acc", tmp_path / "x.png", title="x", dataset="usps")


def test_metric_vs_variant_categorical_and_per_dataset(tmp_path):
    layers = _variant_comparison()
    layers = layers[layers["method"] == "pqdec"].assign(
        variant=["conv1", "conv2", "conv3", "conv4"], n_seeds=1)
    both = pd.concat([layers, layers.assign(dataset="usps")])
    figure = plot_metric_vs_variant(both, "acc", tmp_path / "c.png", title="layers",
                                    variant_label="layer", dpi=30)
    assert len(figure.axes) == 2                    # one subplot per dataset
    assert [ax.get_title() for ax in figure.axes] == ["mnist", "usps"]
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "conv2", "conv3", "conv4"]
    (line,) = [line for line in ax.get_lines() if line.get_label() == "pqdec"]
    assert list(line.get_xdata()) == [0.0, 1.0, 3.0]
    assert _error_bar_count(ax) == 0                # one seed each
    assert "reproduced (n=1)" in _legend_texts(ax)
    with pytest.raises(ValueError, match="log_x"):
        plot_metric_vs_variant(both, "acc", tmp_path / "x.png", title="x", log_x=True)
    figure = plot_metric_vs_variant(_variant_comparison(), "acc", tmp_path / "l.png",
                                    title="x", log_x=True, dpi=30)
    assert figure.axes[0].get_xscale() == "log"
    with pytest.raises(ValueError, match="no variants"):
        plot_metric_vs_variant(_variant_comparison().drop(columns="variant"), "acc",
                               tmp_path / "x.png", title="x")


def test_the_report_modules_import_one_another_without_a_cycle():
    """figures.py re-exports the table renderers of figures_tables.py, which takes its helpers
    from figure_base.py: no module of repro.report imports, directly or through others (lazy
    imports included), one that imports it back."""
    from repro.config import repo_root
    from repro.deps import _imported_names

    folder = repo_root() / "src" / "repro" / "report"
    modules = {f"repro.report.{p.stem}": p for p in folder.glob("*.py") if p.stem != "__init__"}
    edges = {name: {m for m in _imported_names(path, name) if m in modules and m != name}
             for name, path in modules.items()}
    assert "repro.report.figures_tables" in edges["repro.report.figures"]   # the graph is read

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n)))
                   for n in edges[start])

    cycles = sorted(name for name in modules if reaches(name, name))
    assert not cycles, f"import cycle through {cycles}"
