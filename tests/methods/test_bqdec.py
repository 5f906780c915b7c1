"""BQDEC end to end on well separated synthetic data (tiny network with a 256-unit embedding)."""
import numpy as np
import pytest

from repro.methods.bqdec import BQDEC, BQDECConfig
from repro.methods.pretrain import PretrainConfig, pretrain_dense_autoencoder
from repro.models.autoencoders import dense_autoencoder
from repro.quantization import packed_hamming_distance

FAST = dict(batch_size=32, n_init=3)
HISTORY_KEYS = {"iteration", "epoch", "acc", "nmi", "loss", "reconstruction_loss", "quantization_loss",
                "delta_label"}


@pytest.fixture(scope="module")
def blobs(make_blob_vectors):
    return make_blob_vectors(n_per_class=60, seed=1)


@pytest.fixture(scope="module")
def pretrained(blobs):
    x, _ = blobs
    return pretrain_dense_autoencoder(x, PretrainConfig(epochs=10, batch_size=32), seed=0,
                                      dims=(32, 256), verbose=0)


def test_bqdec_clusters_separable_data_with_256_bit_codes(blobs, pretrained):
    x, y = blobs
    autoencoder, encoder = pretrained.build()
    result = BQDEC(4, BQDECConfig(max_epochs=2, tol=0.0, **FAST), autoencoder=autoencoder,
                   encoder=encoder).fit(x, seed=0, y=y)
    assert result.info["final_acc"] >= 0.95 and result.info["method"] == "BQDEC"
    assert result.info["stopped_by"] == "max_epochs" and len(result.history) == 3
    for row in result.history[1:]:
        assert HISTORY_KEYS <= set(row) and 0 <= row["delta_label"] <= 0.05
        expected = row["reconstruction_loss"] + 0.1 * row["quantization_loss"]
        assert row["loss"] == pytest.approx(expected, rel=1e-4)
    codes, centres = result.info["codes"], result.info["centres"]
    assert codes.shape == (len(x), 32) and codes.dtype == np.uint8  # 256 bits packed
    assert centres.shape == (4, 32) and centres.dtype == np.uint8
    sizes = (result.info["code_bits"], result.info["code_bytes"], result.info["codes_nbytes"])
    assert sizes == (256, 32, 32 * len(x))
    # labels are the nearest centres in Hamming distance (the last step of k-majority is an assignment)
    np.testing.assert_array_equal(result.labels, packed_hamming_distance(codes, centres).argmin(axis=1))
    # the packed codes are the signs of the final embedding
    bits = (encoder.predict(x, verbose=0) > 0).astype(np.uint8)
    np.testing.assert_array_equal(codes, np.packbits(bits, axis=1))


def test_quantization_loss_decreases_and_tolerance_stops_after_first_check(blobs, pretrained):
    x, _ = blobs
    autoencoder, encoder = pretrained.build()
    # decoder on the continuous z, so that only L_q pulls the embedding towards the codes
    cfg = BQDECConfig(max_epochs=3, tol=0.9, gamma=1.0, decode="continuous", code_scale="unit", **FAST)
    result = BQDEC(4, cfg, autoencoder=autoencoder, encoder=encoder).fit(x, seed=0)
    assert result.info["stopped_by"] == "tol" and result.info["n_epochs"] == 1
    z = encoder.predict(x, verbose=0)
    pretrained_z = pretrained.build()[1].predict(x, verbose=0)
    final_lq = ((z - np.where(z > 0, 1, -1)) ** 2).sum(1).mean()
    initial_lq = ((pretrained_z - np.where(pretrained_z > 0, 1, -1)) ** 2).sum(1).mean()
    assert final_lq < initial_lq  # the encoder was pulled towards the binary codes


def test_embedding_width_must_match_the_code_length(blobs):
    x, _ = blobs
    autoencoder, encoder = dense_autoencoder(x.shape[1], (16, 10), seed=0)
    with pytest.raises(ValueError, match=r"256-bit codes.*10 units.*dims=\(500, 500, 2000, 256\)"):
        BQDEC(4, BQDECConfig(**FAST), autoencoder=autoencoder, encoder=encoder).fit(x, seed=0)
    with pytest.raises(ValueError, match="kmajority_iter"):
        BQDECConfig(kmajority_iter=0)
    with pytest.raises(ValueError, match="lq_reduction"):
        BQDECConfig(lq_reduction="max")
    with pytest.raises(ValueError, match="unknown decode 'binary'"):
        BQDECConfig(decode="binary")
    with pytest.raises(ValueError, match="unknown code_scale 'max'"):
        BQDECConfig(code_scale="max")
