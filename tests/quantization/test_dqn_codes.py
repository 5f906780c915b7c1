"""DQN's block-diagonal quantization updates, the Eq. 6 bound, and faiss IndexPQ agreement."""

import faiss
import numpy as np
import pytest

from repro.quantization import ProductQuantizer
from repro.metrics import rank
from repro.quantization.dqn_codes import (
    aqd_search,
    decode,
    eq6_bound_fraction,
    faiss_index_pq,
    fast_asymmetric_distances,
    merge_group,
    pack_codes,
    quantization_loss,
    update_codebooks,
    update_codes,
)


def faiss_stored_codes(index) -> np.ndarray:
    """The ``(n, M)`` codes a ``faiss.IndexPQ`` holds, unpacked (inverse of :func:`pack_codes`)."""
    pq = index.pq
    packed = faiss.vector_to_array(index.codes).reshape(index.ntotal, pq.code_size)
    bits = np.unpackbits(packed, axis=1, bitorder="little")[:, : pq.M * pq.nbits]
    bits = bits.reshape(index.ntotal, pq.M, pq.nbits).astype(np.uint32)
    values = (bits << np.arange(pq.nbits, dtype=np.uint32)).sum(axis=2)
    return values.astype(np.uint8 if pq.ksub <= 256 else np.uint16)


def random_problem(n=60, n_subspaces=3, n_codewords=8, sub_dim=4, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, n_subspaces * sub_dim)).astype(np.float32)
    codebooks = rng.normal(size=(n_subspaces, n_codewords, sub_dim)).astype(np.float32)
    return z, codebooks


def brute_force_codes(z, codebooks):
    n_subspaces, n_codewords, sub_dim = codebooks.shape
    codes = np.zeros((len(z), n_subspaces), dtype=int)
    for i in range(len(z)):
        for m in range(n_subspaces):
            part = z[i, m * sub_dim:(m + 1) * sub_dim].astype(np.float64)
            codes[i, m] = int(np.argmin([np.sum((part - c) ** 2) for c in codebooks[m].astype(np.float64)]))
    return codes


def test_update_codes_is_the_exact_nearest_codeword():
    z, codebooks = random_problem()
    codes = update_codes(z, codebooks)
    assert codes.shape == (60, 3) and codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, brute_force_codes(z, codebooks))
    # and it minimises the block-diagonal loss: no single-subspace change lowers it
    loss = quantization_loss(z, codebooks, codes)
    for m in range(3):
        for k in range(8):
            changed = codes.copy()
            changed[:, m] = k
            assert quantization_loss(z, codebooks, changed) >= loss - 1e-9


def test_update_codebooks_is_the_least_squares_solution():
    n_subspaces, n_codewords, sub_dim = 2, 4, 3
    z, _ = random_problem(n=40, n_subspaces=n_subspaces, n_codewords=n_codewords, sub_dim=sub_dim, seed=1)
    codes = np.random.default_rng(2).integers(0, n_codewords, size=(40, n_subspaces)).astype(np.uint8)
    codes[:n_codewords] = np.arange(n_codewords)[:, None]  # every codeword used
    books = update_codebooks(z, codes, n_codewords)
    assert books.shape == (n_subspaces, n_codewords, sub_dim) and books.dtype == np.float32
    # vec(z) = Phi theta with theta the free entries of C = diag(C_1, ..., C_M) and h one-hot per block
    n, dim = z.shape
    design = np.zeros((n * dim, n_subspaces * n_codewords * sub_dim))
    for i in range(n):
        for m in range(n_subspaces):
            for j in range(sub_dim):
                design[i * dim + m * sub_dim + j, (m * n_codewords + codes[i, m]) * sub_dim + j] = 1.0
    theta, *_ = np.linalg.lstsq(design, z.astype(np.float64).ravel(), rcond=None)
    np.testing.assert_allclose(books, theta.reshape(books.shape), rtol=1e-5, atol=1e-6)
    # the block-diagonal matrix form gives the same loss
    block = np.zeros((dim, n_subspaces * n_codewords))
    h = np.zeros((n, n_subspaces * n_codewords))
    for m in range(n_subspaces):
        block[m * sub_dim:(m + 1) * sub_dim, m * n_codewords:(m + 1) * n_codewords] = books[m].T
        h[np.arange(n), m * n_codewords + codes[:, m]] = 1.0
    direct = np.sum((z - h @ block.T) ** 2)
    assert quantization_loss(z, books, codes) == pytest.approx(direct, rel=1e-5)
    assert quantization_loss(z, books, codes, reduction="mean") == pytest.approx(direct / n, rel=1e-5)


def test_empty_codewords_keep_their_previous_value():
    z, previous = random_problem(n=30, n_subspaces=2, n_codewords=6, sub_dim=2, seed=3)
    codes = np.random.default_rng(4).integers(0, 4, size=(30, 2)).astype(np.uint8)  # 4, 5 unused
    with pytest.raises(ValueError, match="no assigned item"):
        update_codebooks(z, codes, 6)
    books = update_codebooks(z, codes, 6, previous=previous)
    np.testing.assert_array_equal(books[:, 4:], previous[:, 4:])
    for m in range(2):
        for k in range(4):
            members = z[codes[:, m] == k, 2 * m:2 * m + 2]
            np.testing.assert_allclose(books[m, k], members.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_alternating_updates_never_raise_the_loss():
    z, codebooks = random_problem(n=200, seed=5)
    losses = []
    for _ in range(5):
        codes = update_codes(z, codebooks)
        losses.append(quantization_loss(z, codebooks, codes))
        codebooks = update_codebooks(z, codes, 8, previous=codebooks)
    assert all(b <= a + 1e-6 for a, b in zip(losses, losses[1:]))


def test_product_quantizer_adc_equals_brute_force_distances_to_decoded_items():
    z, codebooks = random_problem(n=50, seed=6)
    queries = np.random.default_rng(7).normal(size=(9, 12)).astype(np.float32)
    codes = update_codes(z, codebooks)
    decoded = decode(codebooks, codes).astype(np.float64)
    expected = ((queries[:, None, :].astype(np.float64) - decoded[None]) ** 2).sum(axis=2)
    pq = ProductQuantizer.from_codebooks(codebooks)
    np.testing.assert_allclose(pq.asymmetric_distances(queries, codes), expected, rtol=1e-5, atol=1e-5)
    for group in (1, 2, 3):  # merged look-up tables, the last group possibly short
        fast = fast_asymmetric_distances(pq, queries, codes, group=group)
        np.testing.assert_allclose(fast, expected, rtol=1e-5, atol=1e-5)
    assert merge_group(12, 16) == 3 and merge_group(4, 256) == 1


@pytest.mark.parametrize(("n_threads", "n_codewords", "ties"), [(1, 4, True), (2, 4, True), (1, 64, False)])
def test_aqd_search_equals_ranking_the_plain_adc_ties_included(n_threads, n_codewords, ties):
    z, codebooks = random_problem(n=300, n_subspaces=4, n_codewords=n_codewords, sub_dim=2, seed=12)
    codes = update_codes(z, codebooks)
    if ties:
        codes[::3] = codes[0]  # many equal codes: tied distances straddle the k-th place
    else:
        assert len(np.unique(codes, axis=0)) == 300
    queries = np.random.default_rng(13).normal(size=(23, 8)).astype(np.float32)
    pq = ProductQuantizer.from_codebooks(codebooks)
    reference = pq.asymmetric_distances(queries, codes).astype(np.float64)
    for k in (1, 50, 120, 300):
        distances, indices = aqd_search(pq, queries, codes, k, rows_per_chunk=5, n_threads=n_threads)
        assert distances.shape == indices.shape == (23, k)
        assert np.all(np.diff(distances, axis=1) >= 0)
        tied = np.diff(distances, axis=1) == 0
        assert np.all(np.diff(indices, axis=1)[tied] > 0)  # ties: lower index first
        # exactly repro.metrics.rank's order on the same float32 distances
        np.testing.assert_array_equal(indices, rank(fast_asymmetric_distances(pq, queries, codes), top=k))


def test_eq6_bound_holds_for_the_euclidean_reading():
    z, codebooks = random_problem(n=300, n_subspaces=4, n_codewords=4, sub_dim=3, seed=8)
    queries = np.random.default_rng(9).normal(size=(40, 12)).astype(np.float32)
    codes = update_codes(z, codebooks)
    check = eq6_bound_fraction(queries, z, codebooks, codes)
    assert check.n_pairs == 40 * 300
    assert check.euclidean == 1.0 and check.max_excess_euclidean <= 0
    # the two other readings against a direct count over the 12000 pairs (float64, no eps:
    # no pair sits within rounding of its bound here)
    zq, zx = queries.astype(np.float64), z.astype(np.float64)
    decoded = decode(codebooks, codes).astype(np.float64)
    d = np.linalg.norm(zq[:, None] - zx[None], axis=2)
    aqd2 = (np.linalg.norm(zq[:, None] - decoded[None], axis=2)) ** 2
    error = np.linalg.norm(zx - decoded, axis=1)[None, :]
    assert check.squared == pytest.approx(np.mean(np.abs(aqd2 - d) <= error))
    assert check.squared_both == pytest.approx(np.mean(np.abs(aqd2 - d ** 2) <= error))
    assert check.squared < 1.0  # squared AQD against the unsquared d: the bound fails somewhere
    # chunking over queries does not change the counts
    import repro.quantization.dqn_codes as module
    saved = module._CHUNK_ELEMENTS
    try:
        module._CHUNK_ELEMENTS = 300 * 7
        assert eq6_bound_fraction(queries, z, codebooks, codes) == check
    finally:
        module._CHUNK_ELEMENTS = saved


@pytest.mark.parametrize(("n_subspaces", "n_codewords"), [(12, 16), (3, 256), (5, 8)])
def test_faiss_index_pq_holds_the_same_codes_and_distances(n_subspaces, n_codewords):
    sub_dim = 2
    z, codebooks = random_problem(n=400, n_subspaces=n_subspaces, n_codewords=n_codewords, sub_dim=sub_dim, seed=10)
    codes = update_codes(z, codebooks)
    index = faiss_index_pq(codebooks, codes)
    nbits = int(np.log2(n_codewords))
    assert index.pq.M == n_subspaces and index.pq.nbits == nbits and index.ntotal == 400
    np.testing.assert_array_equal(faiss.vector_to_array(index.pq.centroids), codebooks.ravel())
    # the decoded vectors re-encode to the same codes, in faiss' bit layout
    decoded = decode(codebooks, codes)
    np.testing.assert_array_equal(index.pq.compute_codes(decoded), pack_codes(codes, nbits))
    np.testing.assert_array_equal(faiss_stored_codes(index), codes)
    queries = np.random.default_rng(11).normal(size=(20, n_subspaces * sub_dim)).astype(np.float32)
    ours = ProductQuantizer.from_codebooks(codebooks).asymmetric_distances(queries, codes)
    distances, labels = index.search(queries, 400)
    np.testing.assert_allclose(distances, np.take_along_axis(ours, labels, axis=1), rtol=1e-4, atol=1e-4)
    assert np.all(np.diff(distances, axis=1) >= 0)


def test_bad_input_raises_a_clear_error():
    z, codebooks = random_problem()
    codes = update_codes(z, codebooks)
    with pytest.raises(ValueError, match="dimensions"):
        update_codes(z[:, :10], codebooks)
    with pytest.raises(ValueError, match=r"\(M, L, D/M\)"):
        update_codes(z, codebooks[0])
    with pytest.raises(ValueError, match="rows"):
        quantization_loss(z[:10], codebooks, codes)
    with pytest.raises(ValueError, match="outside"):
        update_codebooks(z, codes, 4)
    with pytest.raises(ValueError, match="previous"):
        update_codebooks(z, codes, 8, previous=codebooks[:, :4])
    with pytest.raises(ValueError, match="2\\^nbits"):
        faiss_index_pq(np.zeros((3, 6, 4), np.float32), np.zeros((5, 3), np.uint8))
    with pytest.raises(ValueError, match="reduction"):
        quantization_loss(z, codebooks, codes, reduction="max")
