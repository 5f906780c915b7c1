"""Calibration of the verdict rule by simulation (issue 22): with no true difference, a claim
of 1 or of 6 comparisons is decided either way (holds or fails) with probability at most
alpha; and the power at n = 5 seeds for an effect of 2 seed standard deviations (printed:
``pytest -s tests/report/test_stats_calibration.py``).

Every simulated comparison goes through the real code: :func:`repro.report.stats.compare_cells`
for the interval and :func:`repro.report.claims._decide` for the outcome (with m, the number
of tested comparisons of the claim); the claim's verdict is aggregated as
``evaluate_claims`` does (holds when all hold, fails when one fails). One test checks on a
few simulated frames that ``evaluate_claims`` on a small YAML gives the same verdicts.

Model of a cell value at seed s: mu_method + u_s + e, u_s ~ N(0, tau^2) shared by every
method of that seed (the same split, pretrained network and k-means start), e ~ N(0, sigma^2)
the method's own noise. Paired: both cells measured on the same seeds, tau = sigma (cell
correlation 0.5). Unpaired: the cells share no seed (Welch), tau = 0. A "seed standard
deviation" is a cell's, sqrt(tau^2 + sigma^2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from repro.report.claims import _decide, evaluate_claims
from repro.report.reported import Claim, load_reported
from repro.report.stats import compare_cells

ALPHA = 0.05
SIMS = 240           # claims per condition (x 6 comparisons each)
M = 6
CLAIM = Claim(id="sim", statement="left > right", left=("a",), op=">", right=("b",),
              datasets=("d",), metrics=("acc",))


def _index(seeds):
    return pd.MultiIndex.from_arrays([np.asarray(seeds), np.zeros(len(seeds), int)],
                                     names=["seed", "repeat"])


def _cells(rng, n, paired, effect=0.0, sims=SIMS, m=M):
    """(sims, m, 2, n) cell values: [..., 0, :] the left cell, [..., 1, :] the right one; the
    cell sd is 1, the true difference left - right is ``effect``."""
    if paired:
        tau = sigma = np.sqrt(0.5)
        shared = rng.normal(0, tau, (sims, m, 1, n))
    else:
        sigma, shared = 1.0, 0.0
    values = shared + rng.normal(0, sigma, (sims, m, 2, n))
    values[:, :, 0, :] += effect
    return values


def _outcomes(values, paired, m_family):
    """Per simulated comparison: holds / fails / inconclusive, through compare_cells + _decide."""
    sims, m, _, n = values.shape
    left_index = _index(range(n))
    right_index = left_index if paired else _index(range(100, 100 + n))
    out = np.empty((sims, m), dtype=object)
    for i in range(sims):
        for j in range(m):
            test = compare_cells(pd.Series(values[i, j, 0], index=left_index),
                                 pd.Series(values[i, j, 1], index=right_index), unit="fraction")
            assert test.paired == paired
            row = {"_test": test, "unit": "fraction"}
            _decide(row, CLAIM, ALPHA, m_family)
            out[i, j] = row["outcome"]
    return out


def _verdicts(outcomes):
    """The claim's verdict per simulation (each row: one claim's comparisons)."""
    fails = (outcomes == "fails").any(axis=1)
    holds = (outcomes == "holds").all(axis=1)
    return np.where(fails, "fails", np.where(holds, "holds", "inconclusive"))


def _allowance(p, count):
    return 3 * np.sqrt(p * (1 - p) / count)


@pytest.mark.parametrize("paired", [True, False], ids=["paired", "unpaired"])
def test_no_true_difference_is_decided_at_most_alpha(paired):
    rng = np.random.default_rng(20240622 + paired)
    lines = []
    for n in (2, 3, 5):
        values = _cells(rng, n, paired)
        # one comparison (m = 1): every simulated comparison is a claim of its own
        single = _outcomes(values, paired, 1).reshape(-1, 1)
        # six comparisons (m = 6): the same data, judged as one claim per row
        family = _verdicts(_outcomes(values, paired, M))
        rate_1 = float(np.isin(single[:, 0], ["holds", "fails"]).mean())
        rate_6 = float(np.isin(family, ["holds", "fails"]).mean())
        lines.append(f"{'paired' if paired else 'unpaired'} n={n}: decided m=1 {rate_1:.3f} "
                     f"({single.size} claims), m=6 {rate_6:.3f} ({family.size} claims)")
        assert rate_1 <= ALPHA + _allowance(ALPHA, single.size), lines[-1]
        assert rate_6 <= ALPHA + _allowance(ALPHA, family.size), lines[-1]
        # each error separately: at most alpha / 2 (+ allowance)
        wrong_holds = float((single[:, 0] == "holds").mean())
        assert wrong_holds <= ALPHA / 2 + _allowance(ALPHA / 2, single.size), lines[-1]
    print("\ncalibration (alpha 0.05, no true difference):\n  " + "\n  ".join(lines))


def test_power_at_five_seeds_for_two_seed_sds():
    rng = np.random.default_rng(7)
    values = _cells(rng, 5, True, effect=2.0, sims=150)
    single = _outcomes(values, True, 1).reshape(-1)
    family = _verdicts(_outcomes(values, True, M))
    p1, p6 = float((single == "holds").mean()), float((family == "holds").mean())
    wrong = float((single == "fails").mean() + (family == "fails").mean())
    print(f"\npower (paired, n=5 seeds, true effect 2 seed sd, cell correlation 0.5, alpha 0.05): "
          f"P(holds) one comparison {p1:.2f} ({single.size} sims), claim of six "
          f"comparisons {p6:.2f} ({family.size} sims)")
    assert p1 > 0.5 and p6 > 0.2
    assert wrong == 0.0           # a true effect is never declared failed


def test_the_simulation_path_is_the_path_of_evaluate_claims(toy_dict, write_paper):
    """_decide + the aggregation above give the verdicts evaluate_claims gives on a YAML claim
    of six comparisons (datasets d1..d6), paired and unpaired."""
    datasets = [f"d{i}" for i in range(1, 7)]
    toy_dict["tables"]["t1"]["results"] = [
        {"dataset": d, "method": m, "metric": "acc", "value": 50.0, "unit": "%"}
        for d in datasets for m in ("a", "b")]
    toy_dict["tolerance"] = {"acc": 0.02}
    toy_dict["display"] = {}
    toy_dict["claims"][0]["for_each"]["dataset"] = datasets
    paper = load_reported(write_paper(toy_dict))
    rng = np.random.default_rng(3)
    seen = set()
    for paired in (True, False):
        for effect in (0.0, 1.5, -1.5):
            values = _cells(rng, 3, paired, effect=effect, sims=4)
            expected = _verdicts(_outcomes(values, paired, M))
            for i in range(values.shape[0]):
                rows = [(d, method, seed if (paired or side == 0) else 100 + seed,
                         0.5 + 0.01 * values[i, j, side, seed])
                        for j, d in enumerate(datasets) for side, method in enumerate("ab")
                        for seed in range(3)]
                frame = pd.DataFrame(rows, columns=["dataset", "method", "seed", "value"]).assign(
                    variant="", metric="acc", repeat=0, unit="fraction")
                verdict = evaluate_claims(paper, frame).loc[0, "verdict"]
                assert verdict == expected[i]
                seen.add(verdict)
    assert seen == {"holds", "fails", "inconclusive"}
