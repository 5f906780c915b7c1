import json

import pandas as pd

from repro.report.claims import CLAIM_COLUMNS
from repro.report.reported import load_reported
from repro.report.writers import comparison_display_frame, metrics_dict, write_report


def _paper_as_results(paper):
    frame = paper.frame()
    return frame.assign(seed=0, value=frame["value"] / 100, unit="fraction").drop(columns="table")


def test_write_report_writes_every_file(tmp_path, toy_paper, toy_results):
    histories = pd.DataFrame({"dataset": ["d1"] * 2, "method": ["a"] * 2, "seed": [0, 0],
                              "iteration": [0, 140], "epoch": [0.0, 1.0], "acc": [0.5, 0.6]})
    out = tmp_path / "out"
    comparison, claims, tests = write_report(
        out, toy_paper, toy_results, notes={("d2", "*"): "not run: d2 absent"},
        histories_df=histories, provenance={"profile": "smoke"}, wall_time_s={"total": 1.5})
    assert sorted(p.name for p in out.iterdir()) == [
        "claim_tests.csv", "claims.csv", "claims.md", "comparison.csv", "comparison.md",
        "histories.csv", "metrics.json", "provenance.json", "results.csv"]
    assert len(pd.read_csv(out / "comparison.csv")) == len(comparison) == 7
    written = pd.read_csv(out / "claims.csv", keep_default_na=False)
    assert list(written.columns) == CLAIM_COLUMNS
    assert written["verdict"].tolist() == claims["verdict"].tolist() == ["inconclusive"]
    assert written["strength"].tolist() == ["indicative"]
    assert len(pd.read_csv(out / "claim_tests.csv")) == len(tests) == 1
    assert tests.iloc[0].outcome == "inconclusive"     # b ran one seed: no noise estimate
    markdown = (out / "comparison.md").read_text()
    assert "| Data 1 | Method A | acc (%) | 81 | 82 ± 2 (3 seeds) | +1 | inconclusive (indicative) |  |" in markdown
    assert "not run: d2 absent" in markdown and "Not reported in the paper" in markdown
    assert "acc: 2 percentage points, sec: none" in markdown
    claims_md = (out / "claims.md").read_text()
    assert "## `a_beats_b`: indicative (paper): inconclusive" in claims_md
    assert "- Data 1 acc: Method A 82 (3 seeds) > b 70 (1 seed): +12.0, no noise estimate: " \
        "inconclusive (one run: no estimate of its noise)" in claims_md


def test_metrics_json_is_flat_per_dataset_and_method(toy_results, tmp_path):
    metrics = metrics_dict(toy_results, {"total": 12.0})
    assert metrics["d1"]["a"] == {"acc_mean": 0.82, "acc_std": 0.02, "acc_n": 3,
                                  "sec_mean": 30.0, "sec_std": None, "sec_n": 1,
                                  "nmi_mean": 0.5, "nmi_std": None, "nmi_n": 1}
    assert metrics["wall_time_s"] == {"total": 12.0}
    json.dumps(metrics, allow_nan=False)


def test_gapdcec_markdown_rounds_like_the_paper(tmp_path):
    paper = load_reported("gapdcec")
    write_report(tmp_path, paper, _paper_as_results(paper))
    markdown = (tmp_path / "comparison.md").read_text()
    assert ("| MNIST-full | GAPDCEC | ACC (%) | 89.54 | 89.54 (1 seed) | +0.00 | "
            "inconclusive (indicative) |  |") in markdown          # one seed: no noise estimate
    assert "| USPS | DCEC | ACC (%) | 79.00 | 79.00 (1 seed) |" in markdown
    assert "| GAPDCEC | 89.54 (89.54) |" in markdown      # the paper-shaped grid
    display = comparison_display_frame(pd.read_csv(tmp_path / "comparison.csv"), paper)
    assert len(display) == 36 and display.columns[0] == "Dataset"
