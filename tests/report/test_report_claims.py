import numpy as np
import pandas as pd
import pytest

from repro.report.claims import claim_comparisons, decide, evaluate_claims
from repro.report.reported import ReportedSchemaError, load_reported


@pytest.mark.parametrize("op, left, right, noise, tol, expected", [
    (">", 0.9, 0.8, 0.05, None, "holds"),
    (">", 0.8, 0.9, 0.05, None, "fails"),
    (">", 0.85, 0.8, 0.05, None, "inconclusive"),   # |diff| == noise -> inconclusive
    (">", 0.8, 0.8, 0.0, None, "inconclusive"),     # a tie, no noise estimate
    ("<", 0.7, 0.8, 0.01, None, "holds"),
    ("within", 0.80, 0.81, 0.0, 0.02, "holds"),
    ("within", 0.80, 0.85, 0.0, 0.02, "fails"),
    ("within", 0.80, 0.815, 0.01, 0.02, "inconclusive"),  # margin 0.005 <= noise 0.01
    (">", np.nan, 0.8, 0.0, None, "inconclusive"),
])
def test_decide(op, left, right, noise, tol, expected):
    assert decide(op, left, right, noise, tol)[0] == expected


def _claims(toy_dict, write_paper, claims):
    toy_dict["claims"] = claims
    return load_reported(write_paper(toy_dict))


def _claim(cid, left, op, right, datasets="d1", tolerance=None):
    claim = {"id": cid, "statement": cid, "left": left, "op": op, "right": right,
             "for_each": {"dataset": datasets, "metric": "acc"}, "basis": "table"}
    if tolerance is not None:
        claim["tolerance"], claim["tolerance_source"] = tolerance, "ours"
    return claim


def test_holds_fails_inconclusive(toy_dict, write_paper, toy_results):
    # d1 acc: a = 0.82 ± 0.02 (n=3), b = 0.70 (n=1), c = 0.81 ± 0.014 (n=2); d2 not run
    paper = _claims(toy_dict, write_paper, [
        _claim("holds", "a", ">", "b"),
        _claim("fails", "b", ">", "a"),
        _claim("noise", "a", ">", "c"),                     # 0.01 <= max std 0.02
        _claim("missing", "a", ">", "b", ["d1", "d2"]),
        _claim("fail_wins", ["a", "b"], ">", ["b", "c"]),   # a>c noise, b>c fails, b>b skipped
        _claim("within", "a", "within", "c", tolerance=0.05),
    ])
    claims = evaluate_claims(paper, toy_results).set_index("claim_id")
    assert claims.loc["holds", "verdict"] == "holds"
    assert claims.loc["fails", "verdict"] == "fails"
    assert claims.loc["noise", "verdict"] == "inconclusive"
    assert "|margin| <= std over seeds/repeats" in claims.loc["noise", "evidence"]
    # d2 was not run: the verdict is reached on d1 alone and says so
    assert claims.loc["missing", "verdict"] == "holds"
    assert claims.loc["missing", "verdict_shown"].endswith("not run on d2")
    assert claims.loc["missing", "n_inconclusive"] == 0
    assert claims.loc["missing", "n_holds"] == 1
    assert "Method A not run" in claims.loc["missing", "evidence"]
    assert claims.loc["fail_wins", "verdict"] == "fails"
    assert claims.loc["fail_wins", ["n_holds", "n_fails", "n_inconclusive"]].tolist() == [1, 1, 1]
    assert claims.loc["within", "verdict"] == "holds"


def test_paper_verdict_uses_the_printed_numbers(toy_dict, write_paper, toy_results):
    # printed: a 81 > c 80 holds; b 75 > a 81 fails; d2 has no c printed -> inconclusive
    paper = _claims(toy_dict, write_paper, [
        _claim("ac", "a", ">", "c"), _claim("ba", "b", ">", "a"),
        _claim("ac_d2", "a", ">", "c", ["d1", "d2"])])
    claims = evaluate_claims(paper, toy_results).set_index("claim_id")
    assert claims.loc["ac", "paper_verdict"] == "holds"
    assert claims.loc["ac", "paper_evidence"] == "all 1 comparisons hold on the printed numbers"
    assert claims.loc["ba", "paper_verdict"] == "fails"
    assert "b 75 > Method A 81: fails" in claims.loc["ba", "paper_evidence"]
    assert claims.loc["ac_d2", "paper_verdict"] == "inconclusive"
    assert "not printed" in claims.loc["ac_d2", "paper_evidence"]


def test_evidence_is_readable_in_the_papers_unit(toy_paper, toy_results):
    evidence = evaluate_claims(toy_paper, toy_results).loc[0, "evidence"]
    assert evidence == "Data 1 acc: Method A 82 ± 2 (n=3) > b 70 (n=1): holds"


def test_comparisons_frame(toy_paper, toy_results):
    rows = claim_comparisons(toy_paper, toy_results)
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row.left_mean, row.right_mean) == (pytest.approx(82.0), pytest.approx(70.0))
    assert (row.left_n, row.right_n, row.outcome) == (3, 1, "holds")


def test_gapdcec_claims_on_reproduced_numbers_that_break_one_link():
    paper = load_reported("gapdcec")
    frame = paper.frame()
    results = frame.assign(seed=0, value=frame["value"] / 100, unit="fraction").drop(columns="table")
    swap = (results.method == "idec") & (results.dataset == "usps") & (results.metric == "acc")
    results.loc[swap, "value"] = 0.60                        # IDEC now below DEC on USPS ACC
    claims = evaluate_claims(paper, results).set_index("claim_id")
    assert claims.loc["idec_beats_dec", "verdict"] == "fails"
    assert claims.loc["dcec_beats_idec", "verdict"] == "holds"
    # GAPDCEC - DCEC on MNIST-full ACC is 0.57 points: below the 1-point minimum effect
    assert claims.loc["gapdcec_beats_dcec", "verdict"] == "inconclusive"
    assert "|margin| <= min effect" in claims.loc["gapdcec_beats_dcec", "evidence"]
    assert claims.loc["deep_beats_kmeans", "verdict"] == "fails"   # 60.00 < K-means 66.82
    assert (claims["paper_verdict"] == "holds").all()


def test_pqdec_style_speed_and_memory(write_paper):
    """Second user: seconds/MB cells are not comparable, the speed ordering is a claim."""
    cells = [{"dataset": "mnist-test", "method": m, "metric": metric, "value": v, "unit": u}
             for m, secs, mb in (("dec", 102.12, 8.7), ("pqdec", 63.25, 6.5))
             for metric, v, u in (("seconds", secs, "s"), ("memory", mb, "MB"))]
    paper = load_reported(write_paper({
        "paper": "pq", "title": "PQ", "source": "pqdec.txt",
        "tolerance": {"seconds": None, "memory": None},
        "tables": {"table1": {"caption": "speed and memory", "results": cells}},
        "claims": [{"id": "pqdec_cheaper", "statement": "PQDEC faster and smaller than DEC",
                    "left": "pqdec", "op": "<", "right": "dec",
                    "for_each": {"dataset": "mnist-test", "metric": ["seconds", "memory"]},
                    "basis": "text"}]}))
    results = pd.DataFrame(  # three repeated timings of one seed per method
        [("mnist-test", "dec", "seconds", 0, r, 30.0 + r, "s") for r in range(3)]
        + [("mnist-test", "pqdec", "seconds", 0, r, 20.0 + r, "s") for r in range(3)]
        + [("mnist-test", m, "memory", 0, 0, v, "MB") for m, v in (("dec", 9.0), ("pqdec", 9.0))],
        columns=["dataset", "method", "metric", "seed", "repeat", "value", "unit"])
    from repro.report.compare import compare
    assert set(compare(paper, results)["verdict"]) == {"not comparable"}
    claim = evaluate_claims(paper, results).iloc[0]
    assert claim.verdict == "inconclusive"           # seconds hold, memory is a tie
    assert claim[["n_holds", "n_inconclusive"]].tolist() == [1, 1]
    assert claim.paper_verdict == "holds"
    assert "mnist-test seconds: pqdec 21.00 ± 1.00 (n=3) < dec 31.00 ± 1.00 (n=3): holds" \
        in claim.evidence
    two = results[results["repeat"] < 2]                    # two timings: no decision on speed
    claim = evaluate_claims(paper, two).iloc[0]
    assert claim.n_inconclusive == 2 and "fewer than 3 timings" in claim.evidence


def test_claim_on_a_metric_the_paper_does_not_print(toy_dict, write_paper):
    """PQDEC-style: "without affecting the cluster accuracy" while printing only seconds."""
    toy_dict["claim_only_metrics"] = {"nmi": "%"}
    toy_dict["claims"].append({"id": "a_close_to_b", "statement": "A's NMI within 2 points of B's",
                               "left": "a", "op": "within", "right": "b", "tolerance": 0.02,
                               "tolerance_source": "ours", "basis": "text",
                               "for_each": {"dataset": "d1", "metric": "nmi"}})
    paper = load_reported(write_paper(toy_dict))
    assert paper.metric_unit("nmi") == "%"
    results = pd.DataFrame([("d1", m, "nmi", s, v, "fraction") for m, s, v in
                            [("a", 0, 0.70), ("a", 1, 0.70), ("b", 0, 0.705), ("b", 1, 0.705)]],
                           columns=["dataset", "method", "metric", "seed", "value", "unit"])
    row = evaluate_claims(paper, results).set_index("claim_id").loc["a_close_to_b"]
    assert row.verdict == "holds" and row.paper_verdict == "inconclusive"
    results.loc[results.method == "b", "value"] = 0.75
    assert evaluate_claims(paper, results).set_index("claim_id").loc["a_close_to_b"].verdict == "fails"


def test_claim_only_metric_must_not_be_printed(toy_dict, write_paper):
    toy_dict["claim_only_metrics"] = {"acc": "%"}
    with pytest.raises(ReportedSchemaError, match="claim_only_metrics.acc"):
        load_reported(write_paper(toy_dict))


def test_noise_floor_takes_the_largest_of_seed_std_min_effect_and_rerun_spread(toy_paper):
    # A 0.84 vs B 0.80 (one seed each): 4 points beat the 1-point minimum effect ...
    results = pd.DataFrame([("d1", "a", "acc", 0, 0.84, "fraction"),
                            ("d1", "b", "acc", 0, 0.80, "fraction")],
                           columns=["dataset", "method", "metric", "seed", "value", "unit"])
    assert evaluate_claims(toy_paper, results).loc[0, "verdict"] == "holds"
    # ... but not a 5-point difference that the same cell showed between two machines
    spread = {("d1", "b", "", "acc"): 0.05}
    row = claim_comparisons(toy_paper, results, spread).iloc[0]
    assert row.outcome == "inconclusive" and row.noise_source == "re-run spread"
    assert row.noise == pytest.approx(5.0)  # in the paper's unit (%)
    close = results.assign(value=[0.805, 0.80])  # half a point: below the minimum effect
    assert claim_comparisons(toy_paper, close).iloc[0].noise_source == "min effect"


def test_a_reduced_profile_is_named_beside_every_verdict(toy_paper, toy_results):
    claims = evaluate_claims(toy_paper, toy_results, profile="quick",
                             protocol="pretraining epochs 5 of 200")
    row = claims.iloc[0]
    assert row.verdict == "holds" and row.profile == "quick"
    assert row.verdict_shown == "holds under quick: pretraining epochs 5 of 200"
    paper = evaluate_claims(toy_paper, toy_results).iloc[0]
    assert paper.verdict_shown == "holds" and paper.protocol == "the paper's protocol"


def test_claims_over_a_variant_dimension(toy_dict, write_paper):
    toy_dict["tables"]["t1"]["results"] = [
        {"dataset": "d1", "method": m, "variant": bits, "metric": "acc", "value": v, "unit": "%"}
        for m, values in (("a", (60.0, 70.0)), ("b", (50.0, 65.0)))
        for bits, v in zip((12, 24), values)]
    toy_dict["tolerance"] = {"acc": 0.02}
    toy_dict["display"] = {}
    toy_dict["claims"] = [{"id": "a_beats_b", "statement": "A > B at every code length",
                           "left": "a", "op": ">", "right": "b", "basis": "table",
                           "for_each": {"dataset": "d1", "metric": "acc", "variant": [12, 24]}}]
    paper = load_reported(write_paper(toy_dict))
    assert paper.cell("d1", "a", "acc", "24").value == 70.0
    results = pd.DataFrame([("d1", m, bits, "acc", 0, v, "fraction") for m, bits, v in
                            [("a", "12", 0.6), ("b", "12", 0.5), ("a", "24", 0.6), ("b", "24", 0.7)]],
                           columns=["dataset", "method", "variant", "metric", "seed", "value", "unit"])
    rows = claim_comparisons(paper, results)
    assert rows.set_index("variant").outcome.to_dict() == {"12": "holds", "24": "fails"}
    assert "d1 acc 24: a" in evaluate_claims(paper, results).loc[0, "evidence"]


def test_margin_constants_and_variant_sides(toy_dict, write_paper, toy_results):
    """``margin`` (by more than), a constant side, a "method@variant" side, explicit pairs."""
    toy_dict["tables"]["t1"]["results"] += [
        {"dataset": "d1", "method": "a", "metric": "map", "variant": v, "value": x, "unit": "fraction"}
        for v, x in (("8", 0.50), ("16", 0.60))]
    paper = _claims(toy_dict, write_paper, [
        dict(_claim("by_small", "a", ">", "b"), margin=0.05, tolerance_source="ours"),  # 0.12 > 0.05
        dict(_claim("by_large", "a", ">", "b"), margin=0.2, tolerance_source="ours"),   # 0.12 < 0.2
        _claim("over_constant", "a", ">", 0.5),
        _claim("under_constant", "a", "<", 0.5),
        {"id": "grows", "statement": "grows", "pairs": [["a@16", "a@8"]], "op": ">",
         "for_each": {"dataset": "d1", "metric": "map"}, "basis": "table"},
    ])
    results = pd.concat([toy_results, pd.DataFrame(
        [("d1", "a", "map", s, v, "fraction", variant) for variant, values in
         (("8", (0.40, 0.41)), ("16", (0.50, 0.52))) for s, v in enumerate(values)],
        columns=["dataset", "method", "metric", "seed", "value", "unit", "variant"])],
        ignore_index=True)
    results["variant"] = results["variant"].fillna("")
    claims = evaluate_claims(paper, results).set_index("claim_id")
    assert claims.loc["by_small", "verdict"] == "holds"
    assert claims.loc["by_large", "verdict"] == "fails"
    assert "(by > 20)" in claims.loc["by_large", "evidence"]   # in the paper's unit (%)
    assert claims.loc["over_constant", "verdict"] == "holds"
    assert claims.loc["under_constant", "verdict"] == "fails"
    assert claims.loc["grows", ["verdict", "paper_verdict"]].tolist() == ["holds", "holds"]
    assert "Method A (16)" in claims.loc["grows", "evidence"]


def test_margin_needs_its_source_and_pairs_exclude_left_right(toy_dict, write_paper):
    with pytest.raises(ReportedSchemaError, match="margin names its source"):
        _claims(toy_dict, write_paper, [dict(_claim("m", "a", ">", "b"), margin=0.1)])
    both = dict(_claim("p", "a", ">", "b"), pairs=[["a", "b"]])
    with pytest.raises(ReportedSchemaError, match="either left and right, or pairs"):
        _claims(toy_dict, write_paper, [both])
    with pytest.raises(ReportedSchemaError, match="unknown variant"):
        _claims(toy_dict, write_paper, [{"id": "v", "statement": "v", "pairs": [["a@99", "a"]],
                                         "op": ">", "for_each": {"dataset": "d1", "metric": "acc"},
                                         "basis": "table"}])


def test_stand_in_claims_use_the_paper_datasets_numbers(toy_dict, write_paper, toy_results):
    toy_dict["stand_ins"] = {"s1": "d2"}
    paper = _claims(toy_dict, write_paper, [_claim("on_stand_in", "a", ">", "b", "s1")])
    results = toy_results.assign(dataset=toy_results["dataset"].replace({"d1": "s1"}))
    claims = evaluate_claims(paper, results).set_index("claim_id")
    assert claims.loc["on_stand_in", "verdict"] == "holds"           # s1: 0.82 vs 0.70
    assert claims.loc["on_stand_in", "paper_verdict"] == "holds"     # d2's printed 60 vs 50
    rows = claim_comparisons(paper, results)
    assert rows[["paper_left", "paper_right"]].values.tolist() == [[60.0, 50.0]]
