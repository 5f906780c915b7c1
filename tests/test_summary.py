"""The summary page: read from the stages' files, robust to missing and malformed ones."""

import json
import shutil

import pandas as pd
import yaml

from repro.config import repo_root
from repro.deps import import_closure
from repro.summary import (END, START, claims_frame, collect, headline_frame, readme_block,
                           updated_readme, write_summary)

REPO = repo_root()


def _copy_reports(tmp_path, stages=("gapdcec", "pqdec")):
    for stage in stages:  # the quick reports only: the tests add a paper profile where they need one
        shutil.copytree(REPO / "reports" / stage / "quick", tmp_path / "reports" / stage / "quick")
    (tmp_path / "README.md").write_text(f"# x\n{START}\n{END}\n")
    return tmp_path


def test_the_readme_headline_table_is_what_the_summary_stage_writes():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert updated_readme(text, readme_block(collect(REPO))) == text, \
        "README.md's headline table is stale: run `python -m repro summary`"


def test_counts_come_from_the_comparison_and_claims_files(tmp_path):
    root = _copy_reports(tmp_path, ("gapdcec",))
    comparison = pd.read_csv(root / "reports/gapdcec/quick/comparison.csv")
    table1 = comparison[comparison["table"].fillna("") != ""]
    row = headline_frame(collect(root)).set_index("profile").loc["quick"]
    assert row["reported cells"] == str(len(table1))
    assert row["within"] == str(int((table1.verdict == "within").sum()))
    claims = pd.read_csv(root / "reports/gapdcec/quick/claims.csv")
    indicative = claims[claims.strength == "indicative"]
    holds = int((indicative.verdict == "holds").sum())
    assert row["indicative claims holds / fails / inconclusive"].startswith(f"{holds} / ")
    assert row["decisive claims holds / fails / inconclusive"] == "0 / 0 / 0"   # quick: never
    shown = claims_frame(collect(root))["verdict (strength, profile)"]
    assert shown[indicative.index].str.startswith("indicative (quick)").all()


def test_a_stage_that_has_not_run_and_a_malformed_csv_are_rows_with_the_reason(tmp_path):
    root = _copy_reports(tmp_path)
    (root / "reports/pqdec/quick/comparison.csv").write_text("dataset,method\nx,y\n")
    frame = headline_frame(collect(root)).set_index("paper")
    reasons = dict(zip(frame.index.str.split(":").str[0], frame["report"]))
    assert reasons["Cao et al. AAAI 2016, DQN"] == "not run yet: no report"
    assert reasons["Kolla & VenuGopal, PQDEC"].startswith("comparison.csv malformed: lacks")
    (root / "reports/gapdcec/quick/provenance.json").unlink()
    written = write_summary(root)                          # the page is still written
    assert {p.name for p in written} >= {"README.md", "index.html", "overview.png"}
    page = (root / "reports/README.md").read_text()
    assert "provenance.json missing" in page and "comparison.csv malformed" in page
    assert "<table>" in (root / "reports/index.html").read_text()


def test_the_dvc_stage_depends_on_the_stage_outputs_and_the_code_it_imports():
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["summary"]
    deps = set(stage["deps"])
    assert set(import_closure("repro.summary")) <= deps
    for paper in ("gapdcec", "pqdec"):
        assert {f"reports/{paper}/${{profile}}/{name}"
                for name in ("comparison.csv", "claims.csv", "provenance.json")} <= deps
    assert not any(d.startswith(("src/repro/methods", "src/repro/models")) for d in deps)


def test_a_partial_paper_profile_run_gets_its_row_beside_the_quick_one_with_its_pending_count(
        tmp_path):
    root = _copy_reports(tmp_path, ("gapdcec",))
    quick, paper = root / "reports/gapdcec/quick", root / "reports/gapdcec/paper"
    assert "pending cells / claims" not in headline_frame(collect(root))     # none pending
    shutil.copytree(quick, paper)
    provenance = json.loads((paper / "provenance.json").read_text())
    provenance["profile"] = "paper"
    provenance["extra"]["pending"] = {"cells": 7, "only": "mnist-test"}
    (paper / "provenance.json").write_text(json.dumps(provenance))
    claims = pd.read_csv(paper / "claims.csv")
    claims.loc[0, ["verdict", "strength"]] = ["pending", "pending"]
    claims.to_csv(paper / "claims.csv", index=False)
    frame = headline_frame(collect(root))
    frame = frame[frame.paper.str.contains("GAPDCEC")].set_index("profile")
    assert list(frame.index) == ["paper", "quick"]
    assert frame.loc["paper", "pending cells / claims"] == "7 / 1"
    assert frame.loc["quick", "pending cells / claims"] == ""
    assert "| 7 / 1 |" in readme_block(collect(root))
    write_summary(root)
    page = (root / "reports/README.md").read_text()
    assert "1 pending, waiting for 7 cell(s) not run yet" in page and "*Pending cells" in page


def test_a_paper_profile_run_decisive_on_some_datasets_says_so_while_its_claims_wait(tmp_path):
    import re

    from repro.summary import conclusions

    root = _copy_reports(tmp_path, ("gapdcec",))
    # the committed paper-profile report: USPS at the paper's 5 seeds, the other sets pending
    shutil.copytree(REPO / "reports/gapdcec/paper", root / "reports/gapdcec/paper")
    sentence = conclusions(collect(root))["gapdcec"]
    assert sentence.startswith("Decisive per dataset (paper profile; whole claims wait on "
                               "other datasets): USPS: ")
    assert re.search(r"USPS: \d+ (holds|fails|inconclusive)", sentence)
    assert "MNIST-full:" not in sentence          # nothing decided there yet
    # without the comparisons file the page cannot tell: nothing decisive
    (root / "reports/gapdcec/paper/claim_tests.csv").unlink()
    assert conclusions(collect(root))["gapdcec"].startswith("Nothing decisive yet")
