"""Claims: YAML expansion (variants, pairs, constants, margins, stand-ins, claim-only metrics),
the interval rule of each comparison (paired / Welch / one-sample t, ratio for seconds),
family-wise control over a claim's comparisons, strengths, untestable and not-run claims."""

import numpy as np
import pandas as pd
import pytest

from repro.report.claims import CLAIM_COLUMNS, claim_comparisons, evaluate_claims
from repro.report.gates import Gates
from repro.report.reported import ReportedSchemaError, load_reported
from repro.report.stats import compare_cells

COLUMNS = ["dataset", "method", "variant", "metric", "seed", "repeat", "value", "unit"]


def _rows(dataset, method, values, *, metric="acc", unit="fraction", variant="", seeds=None,
          repeats=None):
    """One cell's results rows: ``values`` over ``seeds`` (default 0, 1, ...) or repeats."""
    seeds = list(seeds if seeds is not None else range(len(values)))
    repeats = list(repeats if repeats is not None else [0] * len(values))
    if len(seeds) == 1 and len(values) > 1:
        seeds = seeds * len(values)
    return [(dataset, method, variant, metric, s, r, v, unit)
            for s, r, v in zip(seeds, repeats, values)]


def _frame(*cells):
    return pd.DataFrame([row for cell in cells for row in cell], columns=COLUMNS)


def _claims(toy_dict, write_paper, claims, **top):
    toy_dict["claims"] = claims
    toy_dict.update(top)
    return load_reported(write_paper(toy_dict))


def _claim(cid, left, op, right, datasets="d1", tolerance=None, metric="acc", **extra):
    claim = {"id": cid, "statement": cid, "left": left, "op": op, "right": right,
             "for_each": {"dataset": datasets, "metric": metric}, "basis": "table", **extra}
    if tolerance is not None:
        claim["tolerance"], claim["tolerance_source"] = tolerance, "ours"
    return claim


def _by_id(paper, results, **kw):
    return evaluate_claims(paper, results, **kw).set_index("claim_id")


# Paired example: seed effects of 10 points move both methods together; A - B is 2 points
# at every seed, give or take half a point.
B_SEEDS = [0.60, 0.70, 0.80]
A_SEEDS = [0.625, 0.715, 0.825]          # A - B = 2.5, 1.5, 2.5 points


# ---------------------------------------------------------------- the interval of a comparison

def test_paired_comparison_is_decided_where_welch_on_the_same_numbers_is_not(toy_paper):
    paired = _frame(_rows("d1", "a", A_SEEDS), _rows("d1", "b", B_SEEDS))
    row = claim_comparisons(toy_paper, paired).iloc[0]
    assert (row.test, row.outcome) == ("paired t", "holds")
    assert row.estimate == pytest.approx(2.1667, abs=1e-3)          # points (the paper's %)
    assert row.lo > 0 and row.df == pytest.approx(2.0)
    # the same numbers, but B measured on other seeds: nothing is shared, Welch's t
    unpaired = _frame(_rows("d1", "a", A_SEEDS), _rows("d1", "b", B_SEEDS, seeds=[10, 11, 12]))
    row = claim_comparisons(toy_paper, unpaired).iloc[0]
    assert (row.test, row.outcome) == ("Welch t", "inconclusive")
    assert row.estimate == pytest.approx(2.1667, abs=1e-3) and row.lo < 0 < row.hi
    verdicts = [evaluate_claims(toy_paper, f).loc[0, "verdict"] for f in (paired, unpaired)]
    assert verdicts == ["holds", "inconclusive"]


def test_an_inconclusive_comparison_says_what_effect_its_runs_could_have_shown(
        toy_dict, write_paper):
    # A - B over 3 paired seeds: 0, 2, 4 points; mean 2, sd 2, se 2 / sqrt(3) = 1.1547; the
    # 95% t quantile at 2 df is 4.3027 (half-width 4.9683), the 80% one 1.0607: a true gain
    # above 0 + 4.9683 + 1.0607 x 1.1547 = 6.193 points (with a 1-point margin, 7.193) is
    # what these runs would show to hold 80% of the time
    for margin, need in ((None, "6.193"), (1.0, "7.193")):
        extra = {} if margin is None else {"margin": margin / 100, "tolerance_source": "ours"}
        paper = _claims(toy_dict, write_paper, [_claim("ab", "a", ">", "b", **extra)])
        row = claim_comparisons(paper, _frame(_rows("d1", "a", [0.80, 0.82, 0.84]),
                                              _rows("d1", "b", [0.80, 0.80, 0.80]))).iloc[0]
        assert (row.test, row.outcome) == ("paired t", "inconclusive")
        assert row.hi - row.lo == pytest.approx(2 * 4.3027 * 2 / np.sqrt(3), abs=1e-3)
        assert (f"with 3 pairs and this spread, a true difference above {need} would have "
                f"been shown to hold 80% of the time at 95%") in row.reason
        assert "; " not in row.reason   # claims.md splits a claim's evidence at "; "
    # "<": the same runs, B - A; below -6.193
    paper = _claims(toy_dict, write_paper, [_claim("ba", "b", "<", "a")])
    row = claim_comparisons(paper, _frame(_rows("d1", "a", [0.80, 0.82, 0.84]),
                                          _rows("d1", "b", [0.80, 0.80, 0.80]))).iloc[0]
    assert "a true difference below -6.193 would have been shown to hold" in row.reason
    # within 10 points: |difference| + 6.193 must stay inside 10, so within 3.807 of 0
    paper = _claims(toy_dict, write_paper, [_claim("w", "a", "within", "b", tolerance=0.05)])
    row = claim_comparisons(paper, _frame(_rows("d1", "a", [0.80, 0.82, 0.84]),
                                          _rows("d1", "b", [0.80, 0.80, 0.80]))).iloc[0]
    assert row.outcome == "inconclusive" and "too wide for the tolerance" in row.reason
    paper = _claims(toy_dict, write_paper, [_claim("w", "a", "within", "b", tolerance=0.10)])
    row = claim_comparisons(paper, _frame(_rows("d1", "a", [0.80, 0.82, 0.84]),
                                          _rows("d1", "b", [0.73, 0.71, 0.69]))).iloc[0]
    assert row.outcome == "inconclusive"   # 11 +- 8.6 (sd 4, se 2.309): covers 10
    # reach = 4.3027 x 2.3094 + 1.0607 x 2.3094 = 12.39 > 10: too wide
    assert "too wide for the tolerance" in row.reason
    row = claim_comparisons(paper, _frame(_rows("d1", "a", [0.80, 0.82, 0.84]),
                                          _rows("d1", "b", [0.72, 0.73, 0.77]))).iloc[0]
    # 8, 9, 7 points: 8 +- 2.484 covers 10; reach 2.484 + 1.0607 x 0.5774 = 3.097
    assert row.outcome == "inconclusive"
    assert "a true difference within 6.903 of 0 would have been shown to hold" in row.reason
    # seconds: a ratio, on the log scale; Welch (other seeds) names both seed counts
    paper = _claims(toy_dict, write_paper, [_claim("fast", "a", "<", "b", metric="sec")])
    a, b = [10.0, 12.0, 14.0], [11.0, 13.0, 15.0, 12.0]
    row = claim_comparisons(paper, _frame(
        _rows("d1", "a", a, metric="sec", unit="s"),
        _rows("d1", "b", b, metric="sec", unit="s", seeds=[10, 11, 12, 13]))).iloc[0]
    assert (row.test, row.outcome) == ("Welch t", "inconclusive")
    la, lb = np.log(a), np.log(b)
    va, vb = la.var(ddof=1) / 3, lb.var(ddof=1) / 4
    se = np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 3)
    from scipy import stats
    need = 1 / np.exp((stats.t.ppf(0.975, df) + stats.t.ppf(0.8, df)) * se)
    assert (f"with 3 and 4 seeds and this spread, a true ratio below {need:.3g} would have "
            f"been shown to hold 80% of the time at 95%") in row.reason
    # a decided comparison carries no such text
    paper = _claims(toy_dict, write_paper, [_claim("ab", "a", ">", "b")])
    row = claim_comparisons(paper, _frame(_rows("d1", "a", A_SEEDS), _rows("d1", "b", B_SEEDS))).iloc[0]
    assert row.outcome == "holds" and "would have been shown" not in row.reason


def test_a_single_seed_is_inconclusive_however_large_the_difference(toy_paper):
    one = _frame(_rows("d1", "a", [0.95]), _rows("d1", "b", [0.10]))
    row = claim_comparisons(toy_paper, one).iloc[0]
    assert row.outcome == "inconclusive" and row.reason == "one run: no estimate of its noise"
    assert row.test == "no noise estimate" and np.isinf(row.hi) and np.isinf(row.lo)
    # one side with three seeds, the other with one: still no noise estimate for that side
    mixed = _frame(_rows("d1", "a", [0.95, 0.96, 0.94]), _rows("d1", "b", [0.10]))
    assert claim_comparisons(toy_paper, mixed).iloc[0].outcome == "inconclusive"
    claim = evaluate_claims(toy_paper, one).iloc[0]
    assert claim.verdict == "inconclusive" and "one run: no estimate of its noise" in claim.evidence


def test_identical_values_across_seeds_decide_by_the_point_estimate(toy_dict, write_paper):
    paper = _claims(toy_dict, write_paper, [_claim("ab", "a", ">", "b"), _claim("ba", "b", ">", "a"),
                                            _claim("ac", "a", ">", "c")])
    results = _frame(_rows("d1", "a", [0.82, 0.82]), _rows("d1", "b", [0.80, 0.80]),
                     _rows("d1", "c", [0.82, 0.82]))
    rows = claim_comparisons(paper, results).set_index("claim_id")
    assert rows.loc["ab", "lo"] == rows.loc["ab", "hi"] == pytest.approx(2.0)   # zero width
    assert rows.loc[["ab", "ba", "ac"], "outcome"].tolist() == ["holds", "fails", "fails"]
    # (a tie without noise is not "greater")


def test_seconds_are_compared_as_a_ratio_on_the_log_scale(toy_dict, write_paper):
    paper = _claims(toy_dict, write_paper, [_claim("a_faster", "a", "<", "b", metric="sec")])
    a, b = [10.0, 21.0, 39.0], [20.0, 40.0, 80.0]          # a takes about half b's time
    results = _frame(_rows("d1", "a", a, metric="sec", unit="s"),
                     _rows("d1", "b", b, metric="sec", unit="s"))
    row = claim_comparisons(paper, results).iloc[0]
    assert row.scale == "ratio" and row.outcome == "holds"
    assert row.estimate == pytest.approx(np.exp(np.mean(np.log(np.divide(a, b)))))
    assert row.lo < row.estimate < row.hi < 1
    # the same run on a machine three times slower: the same ratio, the same interval
    slow = results.assign(value=results["value"] * 3)
    again = claim_comparisons(paper, slow).iloc[0]
    assert (again.estimate, again.lo, again.hi) == pytest.approx((row.estimate, row.lo, row.hi))
    # as a difference of seconds the same numbers would not be decided: the ratio is the test
    diff = compare_cells(pd.Series(a), pd.Series(b), unit="s", scale="difference")
    assert diff.interval(0.95)[1] > 0 > diff.estimate


def test_a_paper_margin_turns_a_positive_difference_into_fails(toy_dict, write_paper):
    margins = {"none": None, "small": 0.05, "near": 0.11, "paper": 0.2}
    paper = _claims(toy_dict, write_paper, [
        dict(_claim(k, "a", ">", "b"), **({"margin": m, "tolerance_source": "paper"} if m else {}))
        for k, m in margins.items()])
    # A - B = 11, 12, 13 points: an interval of about [9.5, 14.5]
    results = _frame(_rows("d1", "a", [0.81, 0.83, 0.85]), _rows("d1", "b", [0.70, 0.71, 0.72]))
    claims = _by_id(paper, results)
    assert claims.loc[list(margins), "verdict"].tolist() == ["holds", "holds", "inconclusive",
                                                             "fails"]
    assert "(by > 20)" in claims.loc["paper", "evidence"]        # the margin, in the paper's %
    row = claim_comparisons(paper, results).set_index("claim_id").loc["paper"]
    assert 0 < row.lo and row.hi_family < 20 and row.margin == pytest.approx(20)


def _wide(toy_dict, datasets):
    toy_dict["tables"]["t1"]["results"] += [
        {"dataset": d, "method": m, "metric": "acc", "value": 50.0, "unit": "%"}
        for d in datasets if d not in ("d1", "d2") for m in ("a", "b")]


def test_bonferroni_a_comparison_that_fails_alone_not_among_six(toy_dict, write_paper):
    datasets = [f"d{i}" for i in range(1, 7)]
    _wide(toy_dict, datasets)
    paper = _claims(toy_dict, write_paper, [_claim("alone", "a", ">", "b", "d1"),
                                            _claim("six", "a", ">", "b", datasets)])
    b = [0.60, 0.70, 0.80]
    a = [v + d for v, d in zip(b, (-0.006, -0.008, -0.010))]   # A - B = -0.8 +- 0.2 points
    results = _frame(*[cell for d in datasets for cell in (_rows(d, "a", a), _rows(d, "b", b))])
    rows = claim_comparisons(paper, results)
    alone = rows[rows.claim_id == "alone"].iloc[0]
    assert alone.outcome == "fails" and alone.hi < 0
    assert (alone.lo_family, alone.hi_family) == pytest.approx((alone.lo, alone.hi))   # m = 1
    six = rows[rows.claim_id == "six"]
    assert len(six) == 6 and (six.outcome == "inconclusive").all()
    # the same 95% interval, but the claim's family interval (1 - 0.05 / 6) crosses zero
    assert six.iloc[0].hi == pytest.approx(alone.hi) and six.iloc[0].hi_family > 0
    claims = _by_id(paper, results)
    assert claims.loc[["alone", "six"], "verdict"].tolist() == ["fails", "inconclusive"]
    assert (claims["alpha"] == 0.05).all()


# ---------------------------------------------------------------- strength, untestable, not run

def test_strength_decisive_only_under_the_paper_profile_with_the_papers_runs(toy_dict, write_paper):
    toy_dict["stand_ins"] = {"s1": "d2"}
    paper = _claims(toy_dict, write_paper, [_claim("d1", "a", ">", "b"),
                                            _claim("s1", "a", ">", "b", "s1")])
    five_a, five_b = [0.80, 0.81, 0.82, 0.83, 0.84], [0.70, 0.72, 0.71, 0.73, 0.72]
    results = _frame(_rows("d1", "a", five_a), _rows("d1", "b", five_b),
                     _rows("s1", "a", five_a), _rows("s1", "b", five_b))
    claims = _by_id(paper, results)
    assert claims.loc["d1", ["verdict", "strength", "verdict_shown"]].tolist() == [
        "holds", "decisive", "decisive: holds"]
    # the same numbers on a stand-in: indicative
    assert claims.loc["s1", ["verdict", "strength"]].tolist() == ["holds", "indicative"]
    quick = _by_id(paper, results, profile="quick").loc["d1"]
    assert (quick.strength, quick.verdict_shown) == ("indicative", "indicative (quick): holds")
    three = results[results["seed"] < 3]                  # fewer runs than the paper's 5
    assert _by_id(paper, three).loc["d1", "strength"] == "indicative"
    toy_dict["runs"] = 3                                  # a paper that averages 3 runs
    assert _by_id(load_reported(write_paper(toy_dict)), three).loc["d1", "strength"] == "decisive"
    assert set(evaluate_claims(paper, results).columns) == set(CLAIM_COLUMNS)


def test_not_run_and_untestable_claims(toy_dict, write_paper):
    paper = _claims(toy_dict, write_paper, [_claim("d1", "a", ">", "b"),
                                            _claim("d2", "a", ">", "b", "d2"),
                                            _claim("both", "a", ">", "b", ["d1", "d2"]),
                                            _claim("half", "a", ">", "c")])
    results = _frame(_rows("d1", "a", A_SEEDS), _rows("d1", "b", B_SEEDS),
                     _rows("d2", "a", A_SEEDS), _rows("d2", "b", B_SEEDS))
    claims = _by_id(paper, results[results.dataset == "d1"])
    assert claims.loc["d2", ["verdict", "strength", "verdict_shown"]].tolist() == [
        "not run", "not run", "not run"]
    assert claims.loc["both", "verdict"] == "holds"
    assert claims.loc["both", "verdict_shown"] == "indicative (paper): holds; not run on d2"
    # one side ran, the other did not: no test, inconclusive
    half = claim_comparisons(paper, results).set_index("claim_id").loc["half"]
    assert (half.outcome, half.reason) == ("inconclusive", "one side has no reproduced number")
    # a gate on b's d1 cell: the d1 comparison is untestable and left out of the verdict
    gates = Gates(cell_gates={("d1", "b", ""): "did not train: b at chance"},
                  quality_metrics=frozenset({"acc"}))
    claims = _by_id(paper, results, gates=gates)
    assert claims.loc["d1", ["verdict", "strength"]].tolist() == ["untestable", "untestable"]
    assert claims.loc["d1", "verdict_shown"] == "untestable: did not train: b at chance"
    assert claims.loc["both", ["verdict", "n_holds", "n_untestable"]].tolist() == ["holds", 1, 1]
    assert claims.loc["both", "verdict_shown"].endswith(
        "untestable on Data 1 (did not train: b at chance)")
    # a claim gate (no dynamic range) on d2
    gates = Gates(claim_gates={("both", "d2"): "no dynamic range on d2"})
    claims = _by_id(paper, results, gates=gates)
    assert claims.loc["both", ["n_holds", "n_untestable"]].tolist() == [1, 1]
    assert claims.loc["d2", "verdict"] == "holds"           # the gate names claim "both" only


def test_a_cell_gate_does_not_touch_seconds(toy_dict, write_paper):
    paper = _claims(toy_dict, write_paper, [_claim("fast", "a", "<", "b", metric="sec")])
    results = _frame(_rows("d1", "a", [10.0, 10.0], metric="sec", unit="s"),
                     _rows("d1", "b", [20.0, 20.0], metric="sec", unit="s"))
    gates = Gates(cell_gates={("d1", "b", ""): "did not train"}, quality_metrics=frozenset({"acc"}))
    assert evaluate_claims(paper, results, gates=gates).loc[0, "verdict"] == "holds"


# ---------------------------------------------------------------- YAML expansion and paper side

def test_holds_fails_inconclusive_and_evidence(toy_dict, write_paper):
    paper = _claims(toy_dict, write_paper, [
        _claim("holds", "a", ">", "b"), _claim("fails", "b", ">", "a"),
        _claim("fail_wins", ["a", "b"], ">", ["b", "c"]),   # a>b holds, a>c inconclusive, b>c fails
        _claim("within", "a", "within", "c", tolerance=0.05)])
    results = _frame(_rows("d1", "a", A_SEEDS), _rows("d1", "b", B_SEEDS),
                     _rows("d1", "c", [0.62, 0.72, 0.82]))
    claims = _by_id(paper, results)
    assert claims.loc["holds", "verdict"] == "holds" and claims.loc["fails", "verdict"] == "fails"
    assert claims.loc["fail_wins", "verdict"] == "fails"
    assert claims.loc["fail_wins", ["n_holds", "n_fails", "n_inconclusive"]].tolist() == [1, 1, 1]
    assert claims.loc["within", "verdict"] == "holds"
    evidence = claims.loc["holds", "evidence"]
    # by hand: A - B = 2.5, 1.5, 2.5 points; 2.17 +- t(0.975, 2) 4.303 x 0.577 / sqrt(3)
    assert evidence == ("Data 1 acc: Method A 72 (3 seeds) > b 70 (3 seeds): +2.2 "
                        "[95%: 0.7, 3.6], paired t: holds")


def test_paper_verdict_uses_the_printed_numbers(toy_dict, write_paper):
    # printed: a 81 > c 80 holds; b 75 > a 81 fails; d2 has no c printed -> inconclusive
    paper = _claims(toy_dict, write_paper, [
        _claim("ac", "a", ">", "c"), _claim("ba", "b", ">", "a"),
        _claim("ac_d2", "a", ">", "c", ["d1", "d2"])])
    claims = _by_id(paper, None)
    assert claims.loc["ac", "paper_verdict"] == "holds"
    assert claims.loc["ac", "paper_evidence"] == "all 1 comparisons hold on the printed numbers"
    assert claims.loc["ba", "paper_verdict"] == "fails"
    assert claims.loc["ba", "paper_evidence"] == "Data 1 acc: b 75 > Method A 81: fails"
    assert claims.loc["ac_d2", "paper_verdict"] == "inconclusive"
    assert "not printed" in claims.loc["ac_d2", "paper_evidence"]
    assert (claims["verdict"] == "not run").all()


def test_gapdcec_claims_on_reproduced_numbers_that_break_one_link():
    """The paper's own numbers at two seeds, moved together by a seed effect (paired
    differences without noise: decided by the point estimate); IDEC then drops below DEC."""
    paper = load_reported("gapdcec")
    frame = paper.frame().drop(columns="table")
    # the dcec_sgd ablation row (not printed) as a copy of DCEC's, 0.1 points lower
    frame = pd.concat([frame, frame[frame.method == "dcec"].assign(
        method="dcec_sgd", value=lambda f: f["value"] - 0.1)], ignore_index=True)
    results = pd.concat([frame.assign(seed=s, repeat=0, value=frame["value"] / 100 + shift,
                                      unit="fraction") for s, shift in ((0, 0.0), (1, 0.005))],
                        ignore_index=True)
    assert (_by_id(paper, results)["verdict"] == "holds").all()
    swap = (results.method == "idec") & (results.dataset == "usps") & (results.metric == "acc")
    results.loc[swap, "value"] = 0.60 + results.loc[swap, "seed"] * 0.005
    claims = _by_id(paper, results)
    assert claims.loc["idec_beats_dec", "verdict"] == "fails"
    assert claims.loc["dcec_beats_idec", "verdict"] == "holds"
    assert claims.loc["gapdcec_beats_dcec", "verdict"] == "holds"   # 0.67 points, no noise
    assert claims.loc["deep_beats_kmeans", "verdict"] == "fails"    # 60.00 < K-means 66.82
    # against the unprinted ablation row the paper's numbers cannot decide
    assert claims.loc["gapdcec_beats_dcec", "paper_verdict"] == "inconclusive"
    assert (claims.drop(index="gapdcec_beats_dcec")["paper_verdict"] == "holds").all()
    assert (claims["strength"] == "indicative").all()               # 2 seeds < 5


def test_pqdec_style_timing_repeats_and_memory(write_paper):
    """Seconds and MB are claims, not comparable cells; repeats of one seed are paired."""
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
    results = _frame(  # three timings of one seed per method; one memory reading each
        _rows("mnist-test", "dec", [30.0, 31.0, 32.5], metric="seconds", unit="s", seeds=[0],
              repeats=[0, 1, 2]),
        _rows("mnist-test", "pqdec", [20.0, 21.0, 22.0], metric="seconds", unit="s", seeds=[0],
              repeats=[0, 1, 2]),
        _rows("mnist-test", "dec", [9.0], metric="memory", unit="MB"),
        _rows("mnist-test", "pqdec", [9.0], metric="memory", unit="MB"))
    from repro.report.compare import compare
    assert set(compare(paper, results)["verdict"]) == {"not comparable"}
    rows = claim_comparisons(paper, results).set_index("metric")
    assert rows.loc["seconds", ["test", "scale", "outcome"]].tolist() == ["paired t", "ratio", "holds"]
    assert rows.loc["memory", "outcome"] == "inconclusive"          # one reading: no noise
    claim = evaluate_claims(paper, results).iloc[0]
    assert claim.verdict == "inconclusive" and claim.paper_verdict == "holds"
    assert claim[["n_holds", "n_inconclusive"]].tolist() == [1, 1]
    assert "(1 seed x 3 repeats)" in claim.evidence or "(3 seeds)" in claim.evidence


def test_claim_on_a_metric_the_paper_does_not_print(toy_dict, write_paper):
    """PQDEC-style: "without affecting the cluster accuracy" while printing only seconds."""
    toy_dict["claim_only_metrics"] = {"nmi": "%"}
    toy_dict["claims"].append({"id": "a_close_to_b", "statement": "A's NMI within 2 points of B's",
                               "left": "a", "op": "within", "right": "b", "tolerance": 0.02,
                               "tolerance_source": "ours", "basis": "text",
                               "for_each": {"dataset": "d1", "metric": "nmi"}})
    paper = load_reported(write_paper(toy_dict))
    assert paper.metric_unit("nmi") == "%"
    results = _frame(_rows("d1", "a", [0.70, 0.70], metric="nmi"),
                     _rows("d1", "b", [0.705, 0.705], metric="nmi"))
    row = _by_id(paper, results).loc["a_close_to_b"]
    assert row.verdict == "holds" and row.paper_verdict == "inconclusive"
    results.loc[results.method == "b", "value"] = 0.75
    assert _by_id(paper, results).loc["a_close_to_b"].verdict == "fails"


def test_claim_only_metric_must_not_be_printed(toy_dict, write_paper):
    toy_dict["claim_only_metrics"] = {"acc": "%"}
    with pytest.raises(ReportedSchemaError, match="claim_only_metrics.acc"):
        load_reported(write_paper(toy_dict))


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
    results = _frame(_rows("d1", "a", [0.60, 0.61], variant="12"),
                     _rows("d1", "b", [0.50, 0.51], variant="12"),
                     _rows("d1", "a", [0.60, 0.61], variant="24"),
                     _rows("d1", "b", [0.70, 0.71], variant="24"))
    rows = claim_comparisons(paper, results)
    assert rows.set_index("variant").outcome.to_dict() == {"12": "holds", "24": "fails"}
    assert "d1 acc 24: a" in evaluate_claims(paper, results).loc[0, "evidence"]


def test_margin_constants_and_variant_sides(toy_dict, write_paper):
    """``margin`` (by more than), a constant side, a "method@variant" side, explicit pairs."""
    toy_dict["tables"]["t1"]["results"] += [
        {"dataset": "d1", "method": "a", "metric": "map", "variant": v, "value": x, "unit": "fraction"}
        for v, x in (("8", 0.50), ("16", 0.60))]
    paper = _claims(toy_dict, write_paper, [
        _claim("over_constant", "a", ">", 0.5),
        _claim("under_constant", "a", "<", 0.5),
        {"id": "grows", "statement": "grows", "pairs": [["a@16", "a@8"]], "op": ">",
         "for_each": {"dataset": "d1", "metric": "map"}, "basis": "table"},
    ])
    results = _frame(_rows("d1", "a", [0.80, 0.81, 0.82]),
                     _rows("d1", "a", [0.40, 0.41, 0.42], metric="map", variant="8"),
                     _rows("d1", "a", [0.50, 0.52, 0.51], metric="map", variant="16"))
    claims = _by_id(paper, results)
    rows = claim_comparisons(paper, results).set_index("claim_id")
    assert rows.loc["over_constant", "test"] == "one-sample t"
    assert claims.loc["over_constant", "verdict"] == "holds"      # 81 +- 1 (3 seeds) vs 50
    assert claims.loc["under_constant", "verdict"] == "fails"
    assert claims.loc["grows", ["verdict", "paper_verdict"]].tolist() == ["holds", "holds"]
    assert rows.loc["grows", "test"] == "paired t"                # same seeds, two variants
    assert "Method A (16)" in claims.loc["grows", "evidence"]


def test_margin_needs_its_source_and_pairs_exclude_left_right(toy_dict, write_paper):
    with pytest.raises(ReportedSchemaError, match="margin names its source"):
        _claims(toy_dict, write_paper, [dict(_claim("m", "a", ">", "b"), margin=0.1)])
    with pytest.raises(ReportedSchemaError, match=r"claims\[0\].margin"):
        _claims(toy_dict, write_paper, [dict(_claim("m", "a", "within", "b", tolerance=0.1),
                                             margin=0.1)])
    both = dict(_claim("p", "a", ">", "b"), pairs=[["a", "b"]])
    with pytest.raises(ReportedSchemaError, match="either left and right, or pairs"):
        _claims(toy_dict, write_paper, [both])
    with pytest.raises(ReportedSchemaError, match="unknown variant"):
        _claims(toy_dict, write_paper, [{"id": "v", "statement": "v", "pairs": [["a@99", "a"]],
                                         "op": ">", "for_each": {"dataset": "d1", "metric": "acc"},
                                         "basis": "table"}])


def test_stand_in_claims_use_the_paper_datasets_numbers(toy_dict, write_paper):
    toy_dict["stand_ins"] = {"s1": "d2"}
    paper = _claims(toy_dict, write_paper, [_claim("on_stand_in", "a", ">", "b", "s1")])
    results = _frame(_rows("s1", "a", A_SEEDS), _rows("s1", "b", B_SEEDS))
    claims = _by_id(paper, results)
    assert claims.loc["on_stand_in", "verdict"] == "holds"
    assert claims.loc["on_stand_in", "paper_verdict"] == "holds"     # d2's printed 60 vs 50
    rows = claim_comparisons(paper, results)
    assert rows[["paper_left", "paper_right"]].values.tolist() == [[60.0, 50.0]]
    assert rows["stand_in"].tolist() == [True]


# ---------------------------------------------------------------- strength counts seeds; edge cases

def test_a_frame_without_variant_and_repeat_columns(toy_paper, toy_results):
    assert evaluate_claims(toy_paper, toy_results).loc[0, "verdict"] == "inconclusive"


def test_a_claim_against_a_constant_can_be_decisive(toy_dict, write_paper):
    paper = _claims(toy_dict, write_paper, [_claim("over", "a", ">", 0.5)])
    results = _frame(_rows("d1", "a", [0.80, 0.81, 0.82, 0.83, 0.84]))
    assert _by_id(paper, results).loc["over", "strength"] == "decisive"


def test_timing_repeats_are_not_runs(toy_dict, write_paper):
    paper = _claims(toy_dict, write_paper, [_claim("fast", "a", "<", "b", metric="sec")])
    results = _frame(_rows("d1", "a", [10.0, 10.5, 11.0, 10.2, 10.7], metric="sec", unit="s",
                           seeds=[0], repeats=range(5)),
                     _rows("d1", "b", [20.0, 20.5, 21.0, 20.2, 20.7], metric="sec", unit="s",
                           seeds=[0], repeats=range(5)))
    assert _by_id(paper, results).loc["fast", "strength"] == "indicative"


def test_within_at_the_tolerance_boundary_holds(toy_dict, write_paper):
    paper = _claims(toy_dict, write_paper, [_claim("w", "a", "within", "c", tolerance=0.02)])
    results = _frame(_rows("d1", "a", [0.72, 0.72]), _rows("d1", "c", [0.70, 0.70]))
    assert 0.72 - 0.70 > 0.02                      # 0.020000000000000018 in floats
    assert _by_id(paper, results).loc["w", "verdict"] == "holds"


def test_a_claim_is_judged_on_each_dataset_and_waits_only_where_its_cells_do(toy_dict, write_paper):
    from repro.report.claims import verdicts_by_dataset
    from repro.report.writers import claims_markdown

    paper = _claims(toy_dict, write_paper, [_claim("ab", "a", ">", "b", datasets=["d1", "d2"]),
                                            _claim("ba", "b", ">", "a", datasets=["d1", "d2"])],
                    runs=3)
    five = [0.60, 0.70, 0.80, 0.65, 0.75]
    results = _frame(_rows("d1", "a", [v + 0.05 for v in five]), _rows("d1", "b", five),
                     _rows("d2", "a", [0.5]), _rows("d2", "b", [0.4]))
    tests = claim_comparisons(paper, results, pending={("d2", "a")})
    table = verdicts_by_dataset(paper, tests, profile="paper").set_index("claim")
    # d1: five paired seeds, A - B = 5 points at each: decided; at the paper's runs: decisive
    assert table.loc["ab", "Data 1"] == "decisive: holds"
    assert table.loc["ba", "Data 1"] == "decisive: fails"
    # d2: one seed each, and A's cells still pending: waits, showing what it has so far
    assert table.loc["ab", "d2"] == table.loc["ba", "d2"] == \
        "pending (1 of 1 comparisons); so far: indicative (paper): inconclusive"
    # the whole claim waits on d2; the per-dataset table shows what d1 already settles
    claims = evaluate_claims(paper, results, profile="paper", comparisons=tests)
    assert (claims["verdict"] == "pending").all()
    text = claims_markdown(claims, paper, tests=tests)
    assert "| ab | decisive: holds | pending (1 of 1 comparisons); so far: indicative (paper): " \
        "inconclusive |" in text
    # a reduced profile's verdict on the same numbers is indicative
    assert verdicts_by_dataset(paper, tests, profile="quick").set_index("claim").loc["ab", "Data 1"] == \
        "indicative (quick): holds"


def test_a_partial_run_decides_at_the_level_of_the_whole_plan(toy_dict, write_paper):
    from repro.report.claims import verdicts_by_dataset

    paper = _claims(toy_dict, write_paper, [_claim("ab", "a", ">", "b", datasets=["d1", "d2"])],
                    runs=3)
    # A - B on d1 over 5 paired seeds: -6, -3, 0, -3, -3 points (mean -3, se 0.949): the 95%
    # interval ends at -0.37 (below 0: fails with one comparison), the 97.5% one at +0.32
    five = [0.60, 0.70, 0.80, 0.65, 0.75]
    diffs = [-0.06, -0.03, 0.0, -0.03, -0.03]
    results = _frame(_rows("d1", "a", [v + d for v, d in zip(five, diffs)]), _rows("d1", "b", five))
    # d2 has no cell: not run (data absent), so the family is the one comparison on d1
    alone = claim_comparisons(paper, results).set_index("dataset")
    assert alone.loc["d1", "outcome"] == "fails"
    assert alone.loc["d1", "hi_family"] == pytest.approx(-3 + 2.7764 * 0.9487, abs=1e-3)
    # d2 pending: its comparison joins the family now, so d1's verdict will not loosen later
    waiting = claim_comparisons(paper, results, pending={("d2", "a"), ("d2", "b")})
    d1 = waiting.set_index("dataset").loc["d1"]
    assert d1["outcome"] == "inconclusive"
    assert d1["hi_family"] == pytest.approx(-3 + 3.4954 * 0.9487, abs=1e-3)
    table = verdicts_by_dataset(paper, waiting, profile="paper").set_index("claim")
    assert table.loc["ab", "Data 1"] == "decisive: inconclusive"
    assert table.loc["ab", "d2"] == "pending (1 of 1 comparisons)"


def test_a_dataset_verdict_names_what_it_could_not_test_and_a_missing_side_is_not_decisive(
        toy_dict, write_paper):
    from repro.report.claims import verdicts_by_dataset

    paper = _claims(toy_dict, write_paper, [
        {**_claim("ab", "a", ">", "b", datasets=["d1", "d2"]),
         "for_each": {"dataset": ["d1", "d2"], "metric": ["acc", "sec"]}},
        _claim("abc", "a", ">", ["b", "c"], datasets=["d1", "d2"])], runs=3)
    five = [0.60, 0.70, 0.80, 0.65, 0.75]
    results = _frame(_rows("d1", "a", [v + 0.05 for v in five]), _rows("d1", "b", five),
                     _rows("d2", "a", [v + 0.05 for v in five]), _rows("d2", "b", five))
    tests = claim_comparisons(paper, results)
    table = verdicts_by_dataset(paper, tests, profile="paper").set_index("claim")
    # seconds have no reproduced number on either side: named beside the ACC verdict
    assert table.loc["ab", "Data 1"] == "decisive: holds (1 of 2 comparisons not run)"
    # C was never run: A > C has one side without a number, which cannot be decisive
    row = tests[(tests["claim_id"] == "abc") & (tests["right"] == "c")].iloc[0]
    assert row["outcome"] == "inconclusive" and row["reason"] == "one side has no reproduced number"
    assert table.loc["abc", "Data 1"] == "indicative (paper): inconclusive"
    claims = evaluate_claims(paper, results, profile="paper", comparisons=tests).set_index("claim_id")
    assert claims.loc["abc", "strength"] == "indicative"
    assert claims.loc["ab", "strength"] == "decisive"
