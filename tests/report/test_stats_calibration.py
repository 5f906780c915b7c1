"""Calibration of the verdict rule by simulation (issue 22): with no true difference, a claim
of 1 or of 6 comparisons is decided either way (holds or fails) with probability at most
alpha = 0.05; and the power at n = 5 seeds for a true effect of 2 seed standard deviations,
printed (``pytest -s tests/report/test_stats_calibration.py``).

The rule under test is the real code's: :func:`repro.report.stats.compare_cells` for the
interval, :func:`repro.report.claims._decide` for the outcome of each comparison (m = the
claim's number of tested comparisons), the claim aggregated as ``evaluate_claims`` does
(holds when all hold, fails when one fails). Tens of thousands of claims through pandas would
take minutes, so the rates are computed with a numpy transcription of the rule
(:func:`_vector_outcomes`), and :func:`test_the_transcription_is_the_real_rule` checks that
it gives exactly the real code's outcome on every one of ~1400 simulated comparisons (all
conditions, null and true effects), and :func:`test_the_real_rule_is_what_evaluate_claims_does`
that evaluate_claims on a small YAML claim of six comparisons gives the aggregated verdicts.

Model of a cell value at seed s: mu_method + u_s + e; u_s ~ N(0, tau^2) is shared by every
method of that seed (same split, pretrained network, k-means start), e ~ N(0, sigma^2) is the
method's own noise. Paired: the two cells were measured on the same seeds, tau = sigma (cell
correlation 0.5): the test is compare_cells' paired t. Unpaired: the cells share no seed
(tau = 0): Welch's t. Every cell has sd 1 ("one seed standard deviation").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from repro.report.claims import _decide, evaluate_claims
from repro.report.reported import Claim, load_reported
from repro.report.stats import compare_cells

ALPHA = 0.05
M = 6
CLAIM = Claim(id="sim", statement="left > right", left=("a",), op=">", right=("b",),
              datasets=("d",), metrics=("acc",))


def _cells(rng, n, paired, *, effect=0.0, sims, m=M):
    """(sims, m, 2, n): [..., 0, :] the left cell's n seeds, [..., 1, :] the right one's;
    each cell sd 1, the true difference left - right ``effect``."""
    if paired:
        tau = sigma = np.sqrt(0.5)
        shared = rng.normal(0, tau, (sims, m, 1, n))
    else:
        sigma, shared = 1.0, 0.0
    values = shared + rng.normal(0, sigma, (sims, m, 2, n))
    values[:, :, 0, :] += effect
    return values


def _index(seeds):
    return pd.MultiIndex.from_arrays([np.asarray(seeds), np.zeros(len(seeds), int)],
                                     names=["seed", "repeat"])


def _real_outcomes(values, paired, m_family):
    """Per comparison: holds / fails / inconclusive, through compare_cells + _decide."""
    sims, m, _, n = values.shape
    left = _index(range(n))
    right = left if paired else _index(range(100, 100 + n))
    out = np.empty((sims, m), dtype=object)
    for i in range(sims):
        for j in range(m):
            test = compare_cells(pd.Series(values[i, j, 0], index=left),
                                 pd.Series(values[i, j, 1], index=right), unit="fraction")
            assert test.kind == ("paired t" if paired else "Welch t")
            row = {"_test": test, "unit": "fraction"}
            _decide(row, CLAIM, ALPHA, m_family)
            out[i, j] = row["outcome"]
    return out


def _vector_outcomes(values, paired, m_family):
    """The same rule in numpy: a (1 - alpha) interval on the claim's side -> holds; the
    (1 - alpha / m) interval on the other side -> fails (claim '>' without margin)."""
    n = values.shape[-1]
    left, right = values[..., 0, :], values[..., 1, :]
    if paired:
        d = left - right
        estimate, se = d.mean(-1), d.std(-1, ddof=1) / np.sqrt(n)
        df = np.full(se.shape, n - 1.0)
    else:
        vl, vr = left.var(-1, ddof=1) / n, right.var(-1, ddof=1) / n
        estimate, se = left.mean(-1) - right.mean(-1), np.sqrt(vl + vr)
        df = (vl + vr) ** 2 / (vl ** 2 / (n - 1) + vr ** 2 / (n - 1))
    lo = estimate - stats.t.ppf(1 - ALPHA / 2, df) * se
    hi_family = estimate + stats.t.ppf(1 - ALPHA / (2 * m_family), df) * se
    return np.where(lo > 0, "holds", np.where(hi_family < 0, "fails", "inconclusive"))


def _verdicts(outcomes):
    """The claim's verdict per row of comparisons (as evaluate_claims aggregates)."""
    fails = (outcomes == "fails").any(axis=1)
    holds = (outcomes == "holds").all(axis=1)
    return np.where(fails, "fails", np.where(holds, "holds", "inconclusive"))


def _decided(verdicts):
    return float(np.isin(verdicts, ["holds", "fails"]).mean())


def _allowance(p, count):
    """Three binomial standard errors of a rate p estimated from ``count`` simulations."""
    return 3 * np.sqrt(p * (1 - p) / count)


CONDITIONS = [(n, paired) for paired in (True, False) for n in (2, 3, 5)]


def test_the_transcription_is_the_real_rule():
    rng = np.random.default_rng(11)
    decided = 0
    for n, paired in CONDITIONS:
        for effect in (0.0, 2.5, -2.5):
            values = _cells(rng, n, paired, effect=effect, sims=9)
            for m in (1, M):
                real = _real_outcomes(values, paired, m)
                np.testing.assert_array_equal(real, _vector_outcomes(values, paired, m))
                decided += int((real != "inconclusive").sum())
    assert decided > 100          # the check saw both kinds of decision, not only "inconclusive"


@pytest.mark.parametrize("n, paired", CONDITIONS,
                         ids=[f"{'paired' if p else 'unpaired'}-n{n}" for n, p in CONDITIONS])
def test_no_true_difference_is_decided_at_most_alpha(n, paired):
    sims = 20000
    rng = np.random.default_rng(1000 * n + paired)
    values = _cells(rng, n, paired, sims=sims)
    single = _vector_outcomes(values, paired, 1).reshape(-1)      # 120000 claims of one
    family = _verdicts(_vector_outcomes(values, paired, M))       # 20000 claims of six
    rate_1, rate_6 = _decided(single), _decided(family)
    print(f"\ncalibration {'paired' if paired else 'unpaired'} n={n}: P(decided | no "
          f"difference) one comparison {rate_1:.4f}, six comparisons {rate_6:.4f} "
          f"(alpha {ALPHA})")
    assert rate_1 <= ALPHA + _allowance(ALPHA, single.size)
    assert rate_6 <= ALPHA + _allowance(ALPHA, family.size)
    # each wrong decision alone has at most alpha / 2
    for verdicts in (single, family):
        for wrong in ("holds", "fails"):
            rate = float((verdicts == wrong).mean())
            assert rate <= ALPHA / 2 + _allowance(ALPHA / 2, verdicts.size), (wrong, rate)


def test_power_at_five_seeds_for_two_seed_sds():
    sims = 20000
    values = _cells(np.random.default_rng(7), 5, True, effect=2.0, sims=sims)
    single = _vector_outcomes(values, True, 1).reshape(-1)
    family = _verdicts(_vector_outcomes(values, True, M))
    p1, p6 = float((single == "holds").mean()), float((family == "holds").mean())
    unpaired = _cells(np.random.default_rng(8), 5, False, effect=2.0, sims=sims)
    w1 = float((_vector_outcomes(unpaired, False, 1) == "holds").mean())
    w6 = float((_verdicts(_vector_outcomes(unpaired, False, M)) == "holds").mean())
    print(f"\npower at n=5 seeds, true effect 2 seed sd, alpha {ALPHA}: paired (cell "
          f"correlation 0.5) P(holds) one comparison {p1:.3f}, claim of six {p6:.3f}; "
          f"unpaired (Welch) one comparison {w1:.3f}, claim of six {w6:.3f}")
    assert p1 > 0.5 and p6 > 0.2
    assert not (single == "fails").any() and not (family == "fails").any()


def test_the_real_rule_is_what_evaluate_claims_does(toy_dict, write_paper):
    """_decide + the aggregation above = evaluate_claims on a YAML claim of six comparisons
    (datasets d1..d6; seeds shared, or not, by the two methods)."""
    datasets = [f"d{i}" for i in range(1, M + 1)]
    toy_dict["tables"]["t1"]["results"] = [
        {"dataset": d, "method": m, "metric": "acc", "value": 50.0, "unit": "%"}
        for d in datasets for m in ("a", "b")]
    toy_dict["tolerance"], toy_dict["display"] = {"acc": 0.02}, {}
    toy_dict["claims"][0]["for_each"]["dataset"] = datasets
    paper = load_reported(write_paper(toy_dict))
    rng = np.random.default_rng(3)
    seen = set()
    for paired in (True, False):
        for effect in (0.0, 6.0, -6.0):
            values = _cells(rng, 3, paired, effect=effect, sims=3)
            expected = _verdicts(_real_outcomes(values, paired, M))
            for i in range(values.shape[0]):
                rows = [(d, method, seed if (paired or side == 0) else 100 + seed,
                         0.5 + 0.01 * values[i, j, side, seed])
                        for j, d in enumerate(datasets) for side, method in enumerate("ab")
                        for seed in range(3)]
                frame = pd.DataFrame(rows, columns=["dataset", "method", "seed", "value"]).assign(
                    variant="", metric="acc", repeat=0, unit="fraction")
                assert evaluate_claims(paper, frame).loc[0, "verdict"] == expected[i]
                seen.add(expected[i])
    assert seen == {"holds", "fails", "inconclusive"}
