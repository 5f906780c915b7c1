"""mAP@R, precision at top R and precision-recall, against hand-worked cases and brute force."""

import numpy as np
import pytest

from repro.metrics import (
    average_precisions,
    hamming_distance,
    mean_average_precision,
    precision_at_top,
    precision_recall_at_top,
    precision_recall_curve,
    rank,
)

# Hand-worked example: 6 database items, 2 queries.
DB_LABELS = np.array([0, 1, 0, 1, 1, 0])
QUERY_LABELS = np.array([0, 1])
RANKING = np.array([[0, 1, 2, 3, 4, 5], [0, 2, 5, 1, 3, 4]])
# query 0 (label 0): relevance 1 0 1 0 0 1 ; query 1 (label 1): relevance 0 0 0 1 1 1


def brute_force_ap(rel):
    hits, total = 0, 0.0
    for k, is_relevant in enumerate(rel, start=1):
        if is_relevant:
            hits += 1
            total += hits / k
    return total / hits if hits else None


def test_hand_worked_map():
    # R=6: query 0 hits at ranks 1,3,6 -> (1/1 + 2/3 + 3/6) / 3 = 13/18
    #      query 1 hits at ranks 4,5,6 -> (1/4 + 2/5 + 3/6) / 3 = 23/60
    np.testing.assert_allclose(average_precisions(QUERY_LABELS, DB_LABELS, RANKING), [13 / 18, 23 / 60])
    assert mean_average_precision(QUERY_LABELS, DB_LABELS, RANKING) == pytest.approx((13 / 18 + 23 / 60) / 2)
    # R=3: query 0 hits at ranks 1,3 -> (1 + 2/3) / 2 = 5/6 ; query 1 has no hit in its top 3
    ap3 = average_precisions(QUERY_LABELS, DB_LABELS, RANKING, R=3)
    assert ap3[0] == pytest.approx(5 / 6) and np.isnan(ap3[1])


def test_zero_versus_drop_convention():
    # mAP@3: "zero" averages 5/6 with 0 -> 5/12 ; "drop" (DeepHash) keeps only query 0 -> 5/6
    assert mean_average_precision(QUERY_LABELS, DB_LABELS, RANKING, R=3) == pytest.approx(5 / 12)
    dropped = mean_average_precision(QUERY_LABELS, DB_LABELS, RANKING, R=3, queries_without_relevant="drop")
    assert dropped == pytest.approx(5 / 6)
    # Both agree when every query has a hit in its top R.
    assert mean_average_precision(QUERY_LABELS, DB_LABELS, RANKING, R=4) == pytest.approx(
        mean_average_precision(QUERY_LABELS, DB_LABELS, RANKING, R=4, queries_without_relevant="drop")
    )
    # Every query dropped: undefined mean.
    assert np.isnan(
        mean_average_precision([1], DB_LABELS, [[0, 2, 5]], queries_without_relevant="drop")
    )


def test_drop_inflates_on_random_data():
    rng = np.random.default_rng(3)
    query, db = rng.integers(0, 50, 200), rng.integers(0, 50, 2000)
    ranking = rank(rng.random((200, 2000)), top=20)
    zero = mean_average_precision(query, db, ranking)
    drop = mean_average_precision(query, db, ranking, queries_without_relevant="drop")
    assert drop > zero + 0.1


@pytest.mark.parametrize("multi_label", [False, True])
def test_map_equals_brute_force(multi_label):
    rng = np.random.default_rng(int(multi_label))
    if multi_label:
        query, db = rng.random((15, 6)) < 0.3, rng.random((120, 6)) < 0.3
        related = (query.astype(int) @ db.T.astype(int)) > 0
    else:
        query, db = rng.integers(0, 4, 15), rng.integers(0, 4, 120)
        related = query[:, None] == db[None, :]
    ranking = rank(rng.integers(0, 5, (15, 120)))
    for R in (1, 7, 50, 120):
        aps = [brute_force_ap(related[i, ranking[i, :R]]) for i in range(15)]
        expected_zero = np.mean([ap or 0.0 for ap in aps])
        kept = [ap for ap in aps if ap is not None]
        assert mean_average_precision(query, db, ranking, R=R) == pytest.approx(expected_zero)
        drop = mean_average_precision(query, db, ranking, R=R, queries_without_relevant="drop")
        assert drop == pytest.approx(np.mean(kept))


def test_random_ranking_map_is_close_to_class_prior():
    rng = np.random.default_rng(7)
    prior = np.array([0.5, 0.3, 0.2])
    db = rng.choice(3, size=20_000, p=prior)
    query = rng.choice(3, size=100, p=prior)
    ranking = np.stack([rng.permutation(20_000) for _ in range(100)])
    expected = prior[query].mean()  # AP of a random full ranking ~ the fraction of relevant items
    assert mean_average_precision(query, db, ranking) == pytest.approx(expected, abs=0.02)


def test_precision_at_top_hand_worked_and_brute_force():
    # query 0: 1 0 1 0 0 1 -> P@1 = 1, P@2 = 1/2, P@6 = 1/2 ; query 1: 0 0 0 1 1 1 -> 0, 0, 1/2
    at_top = precision_at_top(QUERY_LABELS, DB_LABELS, RANKING, [1, 2, 6])
    np.testing.assert_allclose(at_top, [0.5, 0.25, 0.5])
    rng = np.random.default_rng(5)
    query, db = rng.integers(0, 3, 10), rng.integers(0, 3, 80)
    ranking = rank(rng.random((10, 80)))
    Rs = [40, 1, 3, 80]
    expected = [np.mean([np.mean(db[ranking[i, :R]] == query[i]) for i in range(10)]) for R in Rs]
    np.testing.assert_allclose(precision_at_top(query, db, ranking, Rs), expected)
    curve = precision_recall_at_top(query, db, ranking, Rs)
    totals = np.array([np.sum(db == q) for q in query])
    recall = [np.mean([np.sum(db[ranking[i, :R]] == query[i]) / totals[i] for i in range(10)]) for R in Rs]
    np.testing.assert_allclose(curve.precision, expected)
    np.testing.assert_allclose(curve.recall, recall)
    assert curve.recall[-1] == pytest.approx(1.0)


def brute_force_precision_recall(related, distances, radii):
    precision, recall = [], []
    for r in radii:
        p_sum = r_sum = 0.0
        for i in range(len(distances)):
            retrieved = distances[i] <= r
            hits = np.sum(related[i] & retrieved)
            p_sum += hits / retrieved.sum() if retrieved.sum() else 0.0  # empty ball: precision 0
            r_sum += hits / related[i].sum() if related[i].sum() else 0.0
        precision.append(p_sum / len(distances))
        recall.append(r_sum / len(distances))
    return np.array(precision), np.array(recall)


@pytest.mark.parametrize("multi_label", [False, True])
def test_precision_recall_curve_equals_brute_force(multi_label):
    rng = np.random.default_rng(11)
    n_bits = 8
    codes_q, codes_db = rng.integers(0, 2, (12, n_bits)), rng.integers(0, 2, (90, n_bits))
    if multi_label:
        query, db = rng.random((12, 4)) < 0.3, rng.random((90, 4)) < 0.3
        related = (query.astype(int) @ db.T.astype(int)) > 0
    else:
        query, db = rng.integers(0, 3, 12), rng.integers(0, 3, 90)
        related = query[:, None] == db[None, :]
    distances = hamming_distance(codes_q, codes_db)
    radii = np.arange(n_bits + 1)
    curve = precision_recall_curve(query, db, distances, radii=radii)
    expected_p, expected_r = brute_force_precision_recall(related, distances, radii)
    np.testing.assert_allclose(curve.precision, expected_p)
    np.testing.assert_allclose(curve.recall, expected_r)
    float_curve = precision_recall_curve(query, db, distances + 0.25, radii=radii + 0.5)
    np.testing.assert_allclose(float_curve.precision, expected_p)


def test_precision_recall_endpoints():
    query, db = np.array([0, 1]), np.array([0, 1, 0, 1])
    codes_q = np.array([[0, 0, 0], [1, 1, 1]])
    codes_db = np.array([[0, 0, 1], [1, 1, 1], [0, 1, 1], [0, 0, 0]])
    # distances: q0 -> [1, 3, 2, 0] ; q1 -> [2, 0, 1, 3]
    curve = precision_recall_curve(query, db, hamming_distance(codes_q, codes_db), radii=np.arange(4))
    # radius 0: q0 retrieves item 3 (label 1, wrong) -> P 0, R 0 ; q1 retrieves item 1 (right) -> P 1, R 1/2
    assert curve.precision[0] == pytest.approx(0.5) and curve.recall[0] == pytest.approx(0.25)
    # radius n_bits = 3 retrieves everything: recall 1, precision = fraction relevant = 1/2
    assert curve.recall[-1] == 1.0 and curve.precision[-1] == pytest.approx(0.5)
    default = precision_recall_curve(query, db, hamming_distance(codes_q, codes_db))
    np.testing.assert_array_equal(default.thresholds, np.arange(4))  # 0..max distance


def test_empty_hamming_ball_has_precision_zero():
    curve = precision_recall_curve([0], [0, 0], [[2, 3]], radii=[0, 1, 2])
    np.testing.assert_allclose(curve.precision, [0.0, 0.0, 1.0])
    np.testing.assert_allclose(curve.recall, [0.0, 0.0, 0.5])


def test_retrieval_rejects_bad_input():
    with pytest.raises(ValueError, match="R=7 is outside \\[1, 6\\]"):
        mean_average_precision(QUERY_LABELS, DB_LABELS, RANKING, R=7)
    with pytest.raises(ValueError, match="queries_without_relevant"):
        mean_average_precision(QUERY_LABELS, DB_LABELS, RANKING, queries_without_relevant="skip")
    with pytest.raises(ValueError, match="ranking must be a 2-D"):
        mean_average_precision(QUERY_LABELS, DB_LABELS, [0, 1])
    with pytest.raises(ValueError, match="Rs holds values outside"):
        precision_at_top(QUERY_LABELS, DB_LABELS, RANKING, [0, 3])
    with pytest.raises(ValueError, match="distances has shape \\(2, 5\\).*2 queries and 6"):
        precision_recall_curve(QUERY_LABELS, DB_LABELS, np.zeros((2, 5), dtype=int))
    with pytest.raises(ValueError, match="pass radii"):
        precision_recall_curve(QUERY_LABELS, DB_LABELS, np.zeros((2, 6)))
    with pytest.raises(ValueError, match="strictly increasing"):
        precision_recall_curve(QUERY_LABELS, DB_LABELS, np.zeros((2, 6)), radii=[1, 1])
