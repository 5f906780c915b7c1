"""ProductQuantizer against brute force: encoding, decoding, ADC and SDC tables, bad input."""

import numpy as np
import pytest

from repro.quantization import ProductQuantizer, product_quantizer


def brute_force_encode(x, codebooks):
    """Nearest codeword of every sub-vector, by explicit loops."""
    n_subspaces, n_codewords, sub_dim = codebooks.shape
    codes = np.zeros((len(x), n_subspaces), dtype=int)
    for i, vector in enumerate(x.astype(np.float64)):
        for m in range(n_subspaces):
            part = vector[m * sub_dim:(m + 1) * sub_dim]
            costs = [np.sum((part - codebooks[m, l]) ** 2) for l in range(n_codewords)]
            codes[i, m] = int(np.argmin(costs))
    return codes


def test_error_falls_as_the_number_of_codewords_grows(gaussian_data):
    errors = [ProductQuantizer(2, n_codewords).fit(gaussian_data, seed=0).quantization_error(gaussian_data)
              for n_codewords in (4, 16, 64)]
    assert errors[0] > errors[1] > errors[2] > 0


def test_error_falls_as_the_number_of_subspaces_grows(gaussian_data):
    errors = [ProductQuantizer(n_subspaces, 8).fit(gaussian_data, seed=0).quantization_error(gaussian_data)
              for n_subspaces in (1, 2, 4, 8)]
    assert errors[0] > errors[1] > errors[2] > errors[3]


def test_encode_picks_the_nearest_codeword_and_decode_concatenates(fitted_pq, gaussian_data):
    x = gaussian_data[:50]
    codes = fitted_pq.encode(x)
    assert codes.shape == (50, 4) and codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, brute_force_encode(x, fitted_pq.codebooks))
    decoded = fitted_pq.decode(codes)
    expected = np.concatenate([fitted_pq.codebooks[m, codes[:, m]] for m in range(4)], axis=1)
    np.testing.assert_array_equal(decoded, expected)
    error = np.mean(np.sum((x.astype(np.float64) - decoded) ** 2, axis=1))
    assert fitted_pq.quantization_error(x) == pytest.approx(error, rel=1e-6)


def test_codebooks_are_k_means_centres_of_their_subspace(fitted_pq, gaussian_data):
    # after Lloyd iterations every codeword is (close to) the mean of the points it encodes
    codes = fitted_pq.encode(gaussian_data)
    for m in range(4):
        part = gaussian_data[:, 2 * m:2 * m + 2]
        for l in np.unique(codes[:, m]):
            mean = part[codes[:, m] == l].mean(axis=0)
            assert np.linalg.norm(mean - fitted_pq.codebooks[m, l]) < 0.2


def test_fit_is_reproducible_for_a_seed(gaussian_data):
    first = ProductQuantizer(2, 8).fit(gaussian_data, seed=3).codebooks
    second = ProductQuantizer(2, 8).fit(gaussian_data, seed=3).codebooks
    np.testing.assert_array_equal(first, second)
    assert first.shape == (2, 8, 4) and first.dtype == np.float32


def test_distance_tables_and_asymmetric_distances_equal_brute_force(fitted_pq, gaussian_data):
    queries = np.random.default_rng(1).normal(size=(7, 8))
    codes = fitted_pq.encode(gaussian_data[:40])
    decoded = fitted_pq.decode(codes).astype(np.float64)
    expected = ((queries[:, None, :] - decoded[None, :, :]) ** 2).sum(axis=2)
    adc = fitted_pq.asymmetric_distances(queries, codes)
    assert adc.shape == (7, 40) and adc.dtype == np.float32
    assert np.allclose(adc, expected, rtol=1e-5, atol=1e-5)
    tables = fitted_pq.distance_tables(queries)
    assert tables.shape == (7, 4, 16)
    sub_queries = queries.reshape(7, 4, 1, 2)
    assert np.allclose(tables, ((sub_queries - fitted_pq.codebooks[None]) ** 2).sum(axis=3), atol=1e-5)


def test_asymmetric_distances_do_not_depend_on_chunking(fitted_pq, gaussian_data, monkeypatch):
    queries, codes = gaussian_data[:30], fitted_pq.encode(gaussian_data[30:90])
    whole, whole_codes = fitted_pq.asymmetric_distances(queries, codes), fitted_pq.encode(queries)
    monkeypatch.setattr(product_quantizer, "_CHUNK_ELEMENTS", 100)  # 1 row per chunk
    np.testing.assert_array_equal(fitted_pq.asymmetric_distances(queries, codes), whole)
    np.testing.assert_array_equal(fitted_pq.encode(queries), whole_codes)


def test_symmetric_tables_equal_brute_force_codeword_distances(fitted_pq):
    tables = fitted_pq.symmetric_distance_tables()
    assert tables.shape == (4, 16, 16) and tables.dtype == np.float32
    books = fitted_pq.codebooks.astype(np.float64)
    for m in range(4):
        for a in range(16):
            for b in range(16):
                assert tables[m, a, b] == pytest.approx(np.sum((books[m, a] - books[m, b]) ** 2), abs=1e-5)
    assert np.all(np.diagonal(tables, axis1=1, axis2=2) == 0)


def test_sixteen_bit_codes_beyond_256_codewords():
    codebooks = np.arange(300, dtype=np.float32).reshape(1, 300, 1)
    pq = ProductQuantizer.from_codebooks(codebooks)
    codes = pq.encode(np.array([[0.2], [298.7], [150.4]]))
    assert codes.dtype == np.uint16
    np.testing.assert_array_equal(codes[:, 0], [0, 299, 150])


@pytest.mark.parametrize("kwargs", [{"n_subspaces": 4, "n_codewords": 65537},
                                    {"n_subspaces": 0, "n_codewords": 8},
                                    {"n_subspaces": 2, "n_codewords": 2.5}])
def test_bad_sizes_are_rejected(kwargs):
    with pytest.raises(ValueError, match="n_subspaces|n_codewords"):
        ProductQuantizer(**kwargs)


def test_dimension_not_divisible_by_subspaces_is_rejected(gaussian_data):
    with pytest.raises(ValueError, match="not divisible by n_subspaces M=3"):
        ProductQuantizer(3, 4).fit(gaussian_data)
    with pytest.raises(ValueError, match="fewer than n_codewords"):
        ProductQuantizer(2, 16).fit(gaussian_data[:10])
    with pytest.raises(ValueError, match="NaN"):
        ProductQuantizer(2, 4).fit(np.full((20, 8), np.nan))


@pytest.mark.parametrize("codes, message", [
    (np.zeros((5, 4), dtype=np.float32), "integer codeword indices"),
    (np.zeros((5, 3), dtype=np.uint8), r"\(n, M=4\)"),
    (np.zeros(4, dtype=np.uint8), r"\(n, M=4\)"),
    (np.full((5, 4), 16, dtype=np.uint8), r"outside \[0, L=16\)"),
    (np.full((5, 4), -1, dtype=np.int64), r"outside \[0, L=16\)"),
])
def test_bad_codes_are_rejected(fitted_pq, codes, message):
    with pytest.raises(ValueError, match=message):
        fitted_pq.decode(codes)
    with pytest.raises(ValueError, match=message):
        fitted_pq.asymmetric_distances(np.zeros((1, 8)), codes)


def test_unfitted_quantizer_and_wrong_query_dimension_are_rejected(fitted_pq):
    with pytest.raises(ValueError, match="not fitted"):
        ProductQuantizer(2, 4).encode(np.zeros((3, 8)))
    with pytest.raises(ValueError, match="fitted on D=8"):
        fitted_pq.distance_tables(np.zeros((3, 6)))
    with pytest.raises(ValueError, match=r"\(M, L, D/M\)"):
        ProductQuantizer.from_codebooks(np.zeros((4, 16)))
