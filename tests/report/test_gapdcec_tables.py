"""GAPDCEC report tables (repro.report.gapdcec_tables; the stage itself runs in tests/test_pipeline.py)."""
import numpy as np
import pandas as pd
import pytest

from repro.report.gapdcec_tables import clustering_phase_gain


def test_clustering_phase_gain_is_end_minus_start_of_each_run_averaged_over_seeds():
    rows = [
        # dataset, method, seed, iteration, acc (rows deliberately out of iteration order)
        ("d", "dec", 0, 280, 0.70), ("d", "dec", 0, 0, 0.60), ("d", "dec", 0, 140, 0.65),
        ("d", "dec", 1, 0, 0.50), ("d", "dec", 1, 140, 0.58),
        ("d", "kmeans", 0, 17, 0.55),  # one row: no clustering phase, left out
        ("d", "dcn", 0, 0, 0.40), ("d", "dcn", 0, 1, np.nan), ("d", "dcn", 0, 2, 0.38),
    ]
    frame = pd.DataFrame(rows, columns=["dataset", "method", "seed", "iteration", "acc"])
    gain = clustering_phase_gain(frame)
    assert list(gain.index) == [("d", "dec"), ("d", "dcn")]
    dec = gain.loc[("d", "dec")]
    assert dec["start"] == pytest.approx(0.55) and dec["end"] == pytest.approx(0.64)
    assert dec["gain"] == pytest.approx(0.09) and dec["seeds"] == 2
    assert gain.loc[("d", "dcn"), "gain"] == pytest.approx(-0.02)
    assert clustering_phase_gain(frame[frame.method == "kmeans"]).empty


def _anchor_frames(dec_end, dec_start, dataset="usps"):
    from repro.report.gapdcec_tables import reference_code_anchor  # noqa: F401

    results = pd.DataFrame([{"dataset": dataset, "method": "dec", "variant": "", "metric": m,
                             "seed": s, "repeat": 0, "value": v, "unit": "fraction"}
                            for s, v in enumerate(dec_end) for m in ("acc", "nmi")])
    histories = pd.DataFrame([{"dataset": dataset, "method": "dec", "seed": s, "iteration": it,
                               "acc": a, "nmi": a} for s, a in enumerate(dec_start)
                              for it, a in ((0, a), (30, a + 0.1))])
    return results, histories


def test_reference_code_anchor_agrees_deviates_or_stays_inconclusive():
    from repro.report.gapdcec_tables import reference_code_anchor

    # DEC-keras USPS: end ACC 0.7636 (10 trials, sd 0.006), start ACC 0.7086
    near = reference_code_anchor(*_anchor_frames([0.762, 0.765, 0.760, 0.766, 0.763],
                                                 [0.70, 0.71, 0.705, 0.712, 0.708]))
    near = near.set_index(["stage", "metric"])
    assert near.loc[("end", "acc"), "verdict"] == "agrees"
    assert near.loc[("end", "acc"), "reference"] == pytest.approx(0.763637)
    assert near.loc[("end", "acc"), "trials"] == 10 and near.loc[("end", "acc"), "seeds"] == 5
    assert near.loc[("start", "acc"), "verdict"] == "agrees"
    far = reference_code_anchor(*_anchor_frames([0.61, 0.62, 0.60], [0.52, 0.53, 0.51]))
    assert (far.set_index(["stage", "metric"]).loc[[("end", "acc"), ("start", "acc")], "verdict"]
            == "deviates").all()
    one_seed = reference_code_anchor(*_anchor_frames([0.76], [0.60])).set_index(["stage", "metric"])
    assert (one_seed["verdict"] == "inconclusive").all()   # one seed: no interval
    # ... but it can be read against the reference's published range (0.7511-0.7687 at the end)
    assert one_seed.loc[("end", "acc"), "reference_range"] == "0.7511-0.7687"
    assert one_seed.loc[("end", "acc"), "seeds_in_range"] == "1/1"
    assert one_seed.loc[("start", "acc"), "seeds_in_range"] == "0/1"
    # a dataset the reference does not publish, or one we did not run: no row
    assert reference_code_anchor(*_anchor_frames([0.7, 0.8], [0.6, 0.6], "mnist-test")).empty


def test_where_the_gap_comes_from_joins_gain_and_budget():
    from repro.report.gapdcec_tables import where_the_gap_comes_from

    results, histories = _anchor_frames([0.7, 0.8], [0.6, 0.65])
    budget = pd.DataFrame([{"dataset": "usps", "method": "dec", "variant": "", "metric": m,
                            "seed": s, "repeat": 0, "value": v, "unit": "count"}
                           for s in (0, 1) for m, v in (("pretrain_epochs", 20 + s),
                                                         ("clustering_steps", 300),
                                                         ("stopped_by_tol", float(s)))])
    table = where_the_gap_comes_from(pd.concat([results, budget]), histories)
    row = table.loc[("usps", "dec")]
    assert row["gain"] == pytest.approx(0.1) and row["pretrain_epochs"] == 20.5
    assert row["tol_stop_share"] == 0.5 and row["clustering_steps"] == 300
