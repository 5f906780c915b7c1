"""The worked cases of issue 22 as regression tests on the quick reports' results as committed
at cd88edc (tests/report/data/; read only)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from repro.report.claims import claim_comparisons, evaluate_claims
from repro.report.derived import add_derived, paper_values
from repro.report.gates import chance_level, evaluate_gates
from repro.report.reported import load_reported

ROOT = Path(__file__).resolve().parents[2]


# The quick reports' results as committed at cd88edc (before issues 24 and 25 changed the
# settings and re-ran them), frozen beside these tests: each test below is about the rule on
# the real numbers it was written for, not about whatever the latest quick run produced.
DATA = Path(__file__).with_name("data")


def _read(paper, name="results.csv"):
    assert name == "results.csv"
    path = DATA / f"{paper}-quick-cd88edc.csv"
    frame = pd.read_csv(path, dtype={"variant": str}, keep_default_na=False,
                        na_values={"value": [""]} if name == "results.csv" else [""])
    if "variant" in frame:
        frame["variant"] = frame["variant"].fillna("")
    return frame


def _unpaired(results, method):
    """The same numbers with ``method``'s seeds renamed: nothing shared, Welch's t."""
    out = results.copy()
    out.loc[out["method"] == method, "seed"] += 100
    return out


def test_gapdcec_idec_below_dec_on_mnist_full_is_decided_by_the_paired_test():
    paper, results = load_reported("gapdcec"), _read("gapdcec")
    cell = lambda rows: rows[(rows.claim_id == "idec_beats_dec") & (rows.dataset == "mnist-full")
                             & (rows.metric == "acc")].iloc[0]
    paired = cell(claim_comparisons(paper, results))
    # IDEC - DEC = -2.62, -2.59 points at the two seeds: the same sign, the same size
    assert paired.test == "paired t" and paired.outcome == "fails"
    assert paired.estimate == pytest.approx(-2.61, abs=0.01) and paired.hi_family < 0
    assert evaluate_claims(paper, results, profile="quick").set_index("claim_id").loc[
        "idec_beats_dec", "verdict_shown"] == "indicative (quick): fails"
    # Welch on the same numbers: the seed-to-seed spread (~1 point per method) swamps it
    welch = cell(claim_comparisons(paper, _unpaired(results, "idec")))
    assert welch.test == "Welch t" and welch.outcome == "inconclusive"
    assert welch.estimate == pytest.approx(paired.estimate)
    assert welch.lo_family < 0 < welch.hi_family
    # with the committed Intel/AMD re-run data the difference barely moved between machines
    # (the issue's -2.2, -2.4 vs -2.6, -2.6): the 95% interval still excludes 0, but with two
    # seeds (1 degree of freedom, which re-run data never add) the claim's family-wise
    # interval over its six comparisons does not: the stage's report says so
    from repro.report.rerun import read_rerun, rerun_path

    rerun = read_rerun(rerun_path("gapdcec", "quick", ROOT))
    both = cell(claim_comparisons(paper, results, rerun=rerun))
    assert both.test == "paired t + re-run" and both.df == 1
    assert both.hi < 0 < both.hi_family and both.outcome == "inconclusive"
    assert "family-wise level" in both.reason


def test_ucnn_fails_against_the_papers_margin_over_baseline_1():
    paper, results = load_reported("ucnn"), _read("ucnn")
    claim = next(c for c in paper.claims if c.id == "compensation_matters")
    assert claim.margin == pytest.approx(0.14) and claim.tolerance_source == "paper"
    rows = claim_comparisons(paper, results)
    rows = rows[(rows.claim_id == "compensation_matters") & (rows.outcome != "not run")]
    assert sorted(rows.dataset) == ["mnist-test-04", "mnist-test-59", "mnist-train-59"]
    assert (rows.outcome == "fails").all() and (rows.test == "paired t").all()
    # mnist-test-04: UCNN and Baseline-I are bit-identical at every seed: a zero-width interval
    zero = rows.set_index("dataset").loc["mnist-test-04"]
    assert zero.estimate == 0 and zero.lo == zero.hi == 0
    verdict = evaluate_claims(paper, results, profile="quick").set_index("claim_id").loc[
        "compensation_matters"]
    assert (verdict.verdict, verdict.strength) == ("fails", "indicative")
    # without the pairing, MNIST-test 0-4's 0.06 seed std leaves the identical cells open
    welch = claim_comparisons(paper, _unpaired(results, "baseline_1"))
    welch = welch[(welch.claim_id == "compensation_matters") & (welch.outcome != "not run")]
    assert (welch.test == "Welch t").all()
    assert welch.set_index("dataset").loc["mnist-test-04", "outcome"] == "inconclusive"


def test_mnist_pairs_chance_level_of_two_digit_labels():
    """mAP of a random ranking on MNIST-pairs (two digits per image, relevant = one shared
    digit): ~0.345; here from labels built as repro.data.derived.digit_pairs builds them."""
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 10, (2, 4000))
    y = np.zeros((4000, 10), dtype=np.uint8)
    y[np.arange(4000), digits[0]] = 1
    y[np.arange(4000), digits[1]] = 1
    assert chance_level("relevance_rate", y) == pytest.approx(0.345, abs=0.01)


MNIST_PAIRS_CHANCE = {"mnist-pairs": {"map": 0.345}, "mnist-full": {"map": 0.10}}


def _dqn_histories(results, final_loss):
    """One two-epoch history per (dataset, DQN-family method, bits, seed) of ``results``,
    ending at ``final_loss[dataset]`` (the gate reads the last epoch's loss)."""
    maps = results[(results.metric == "map") & results.method.isin(["dqn", "dqn2plus", "dqnip"])]
    rows = []
    for (dataset, method, variant, seed), _ in maps.groupby(["dataset", "method", "variant", "seed"]):
        for epoch, loss in ((1, 1.2), (2, final_loss[dataset])):
            rows.append({"dataset": dataset, "method": method, "variant": variant, "seed": seed,
                         "iteration": 79 * epoch, "epoch": float(epoch), "loss": loss})
    return pd.DataFrame(rows)


def _dqn_results_with_pairs_at_chance():
    """Two seeds of a quick-like run: every method trained on MNIST-full; on MNIST-pairs the
    deep methods at mAP 0.36-0.41 (chance 0.345) and KSH well above it, as the quick run of
    issue 25 (before the trunk saw two-digit images)."""
    rng = np.random.default_rng(0)
    rows = []
    for dataset in ("mnist-full", "mnist-pairs"):
        for method in ("ksh", "ksh_d", "cnnh", "dnnh", "dqn2plus", "dqnip", "dqn"):
            for bits in ("12", "24", "32", "48"):
                for seed in (0, 1):
                    shallow = method in ("ksh", "ksh_d")
                    value = (rng.uniform(0.75, 0.9) if dataset == "mnist-full" or shallow
                             else rng.uniform(0.36, 0.41))
                    rows.append((dataset, method, bits, "map", seed, 0, value, "fraction"))
        rows.append((dataset, "dqn", "32", "bytes_per_item", 0, 0, 4.0, "bytes"))
    return pd.DataFrame(rows, columns=["dataset", "method", "variant", "metric", "seed", "repeat",
                                       "value", "unit"])


def test_dqn_mnist_pairs_cells_did_not_train_and_their_claims_are_untestable():
    """Synthetic results and losses (in the authors' units): on MNIST-pairs the deep methods
    sit at chance and DQN, DQNip and DQN2+ end at their trivial loss 1; on MNIST-full all
    trained. The chance and loss gates flag the first (the loss gate covers all three since
    issue 25) and their claims turn untestable."""
    paper = load_reported("dqn")
    results = _dqn_results_with_pairs_at_chance()
    histories = _dqn_histories(results, {"mnist-pairs": 1.01, "mnist-full": 0.75})
    gates = evaluate_gates(paper.gates, results, histories, MNIST_PAIRS_CHANCE, label=paper.label)
    table = gates.frame()
    failed = table[~table["passes"].astype(bool)]
    assert set(failed["dataset"]) == {"mnist-pairs"}                # MNIST-full all trained
    for method in ("dqn", "dnnh", "dqnip"):                         # mAP 0.36-0.41: chance
        for bits in ("12", "24", "32", "48"):
            assert gates.cell("mnist-pairs", method, bits, "map").startswith("did not train")
            assert gates.cell("mnist-full", method, bits, "map") is None
    # the pairwise losses end at 1.01, their value for uninformative codes (1)
    loss = failed[failed["gate"] == "loss below trivial"]
    assert set(loss["dataset"]) == {"mnist-pairs"} and (loss["value"] > 1.0).all()
    assert {c.split()[0] for c in loss["cell"]} == {"dqn", "dqn2plus", "dqnip"}
    assert gates.cell("mnist-pairs", "dqn2plus", "32", "map").startswith("did not train")
    assert gates.cell("mnist-pairs", "ksh", "32", "map") is None    # KSH ranks well above it
    assert gates.cell("mnist-pairs", "dqn", "32", "bytes_per_item") is None   # bytes: no gate
    rows = claim_comparisons(paper, results, gates=gates)
    pairs = rows[rows.dataset == "mnist-pairs"].groupby("claim_id")["outcome"].agg(set)
    for claim in ("dqn_best", "dqn_beats_dqn2plus", "dqn_beats_dqnip_large",
                  "dqn_grows_with_bits"):
        assert pairs[claim] == {"untestable"}, claim
    assert "untestable" not in pairs["kshd_beats_ksh"]
    claims = evaluate_claims(paper, results, profile="quick", gates=gates).set_index("claim_id")
    assert "untestable on MNIST-pairs" in claims.loc["dqn_beats_dqn2plus", "verdict_shown"]
    assert (claims["strength"] != "decisive").all()


def test_deepcluster_digit_stand_ins_have_no_dynamic_range():
    paper = load_reported("deepcluster")
    results = add_derived(_read("deepcluster"), paper.derived)
    gates = evaluate_gates(paper.gates, results, None, {}, label=paper.label)
    ranges = gates.frame().set_index("dataset")
    assert ranges.loc["mnist-full", "value"] < 0.05 and ranges.loc["usps", "value"] < 0.05
    assert not ranges["passes"].astype(bool).any()
    claims = evaluate_claims(paper, results, profile="quick", gates=gates).set_index("claim_id")
    probes = ["beats_random", "below_supervised_in_domain", "gap_grows_with_depth",
              "overclustering_helps", "comparable_on_transfer", "gap_smaller_on_transfer"]
    assert (claims.loc[probes, "verdict"] == "untestable").all()
    assert claims.loc["gap_grows_with_depth", "verdict_shown"].startswith(
        "untestable: no dynamic range: on MNIST")
    # the NMI claims of Fig. 2 rest on no probe and stay testable
    assert (claims.loc[["nmi_labels_rises", "nmi_epochs_rises"], "verdict"] != "untestable").all()
    assert (claims["strength"] != "decisive").all()


def test_deepcluster_paper_side_checks_through_the_derived_metrics():
    paper = load_reported("deepcluster")
    gap = paper_values(paper)
    # supervised - DeepCluster on ImageNet: 4.0, 3.2 at conv2, conv3; 12.3 at conv5
    assert [gap[("imagenet", "deepcluster", v, "supervised_gap")] for v in
            ("conv2", "conv3", "conv5")] == pytest.approx([0.040, 0.032, 0.123])
    # how much smaller it is on Places: 4.0 at conv3, 9.1 at conv4
    assert [gap[("places205", "deepcluster", v, "transfer_gap_reduction")] for v in
            ("conv3", "conv4")] == pytest.approx([0.040, 0.091])
    claims = evaluate_claims(paper, None).set_index("claim_id")
    for claim in ("gap_grows_with_depth", "gap_smaller_on_transfer"):
        assert claims.loc[claim, "paper_verdict"] == "holds", claims.loc[claim, "paper_evidence"]
        assert claims.loc[claim, "paper_evidence"] == \
            "all 4 comparisons hold on the printed numbers"
