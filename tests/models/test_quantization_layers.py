"""Quantization layers of PQDEC / BQDEC and the model owning L = L_r + gamma L_q, against brute force."""
import keras
import numpy as np
import pytest

from repro.models.autoencoders import dense_autoencoder
from repro.models.quantization_layers import (
    BinaryQuantization,
    ProductQuantization,
    QuantizedAutoencoder,
    decoder_chain,
    pad_subvectors,
    subspace_padding_matrix,
)
from repro.quantization import ProductQuantizer


def _random_codebooks(rng, n_subspaces=4, n_codewords=8, dim=10):
    """(M, L, ceil(D/M)) codebooks with zeros in the padded coordinates."""
    padding = subspace_padding_matrix(dim, n_subspaces)
    width = padding.shape[1] // n_subspaces
    mask = padding.sum(axis=0).reshape(n_subspaces, 1, width)
    return (rng.normal(size=(n_subspaces, n_codewords, width)) * mask).astype(np.float32)


def _brute_force(z, codebooks):
    """Codes (n, M), quantized padded vectors (n, M * d_sub) and mean ||z - C h||^2 by loops."""
    n_subspaces = codebooks.shape[0]
    sub = pad_subvectors(z, n_subspaces).reshape(len(z), n_subspaces, -1).astype(np.float64)
    codes = np.zeros((len(z), n_subspaces), dtype=np.int64)
    for i in range(len(z)):
        for m in range(n_subspaces):
            codes[i, m] = np.argmin(((sub[i, m] - codebooks[m]) ** 2).sum(axis=1))
    quantized = codebooks[np.arange(n_subspaces), codes]  # (n, M, d_sub)
    return codes, quantized, float(((sub - quantized) ** 2).sum(axis=(1, 2)).mean())


def test_padding_splits_10_dims_3_3_2_2_and_preserves_distances():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 10)).astype(np.float32)
    padded = pad_subvectors(z, 4)
    assert padded.shape == (6, 12)
    sub = padded.reshape(6, 4, 3)
    np.testing.assert_array_equal(sub[:, 0], z[:, 0:3])
    np.testing.assert_array_equal(sub[:, 1], z[:, 3:6])
    np.testing.assert_array_equal(sub[:, 2, :2], z[:, 6:8])
    np.testing.assert_array_equal(sub[:, 3, :2], z[:, 8:10])
    np.testing.assert_array_equal(sub[:, 2:, 2], 0.0)
    distances = lambda a: ((a[:, None] - a[None]) ** 2).sum(-1)  # noqa: E731
    np.testing.assert_allclose(distances(padded), distances(z), rtol=1e-6)
    np.testing.assert_array_equal(padded @ subspace_padding_matrix(10, 4).T, z)  # un-padding
    assert pad_subvectors(z, 2).shape == (6, 10)  # divisible: no padding


@pytest.mark.parametrize("dim, n_subspaces", [(3, 4), (10, 0)])
def test_padding_rejects_impossible_splits(dim, n_subspaces):
    with pytest.raises(ValueError, match="n_subspaces|sub-vectors"):
        subspace_padding_matrix(dim, n_subspaces)


def test_product_quantization_is_nearest_codeword_and_adds_eq4_loss():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(40, 10)).astype(np.float32)
    codebooks = _random_codebooks(rng)
    layer = ProductQuantization(4, 8)
    layer.build((None, 10))
    layer.set_codebooks(codebooks)
    z_quantized, codes = layer(z)
    expected_codes, quantized, expected_loss = _brute_force(z, codebooks)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(codes), expected_codes)
    np.testing.assert_array_equal(ProductQuantizer.from_codebooks(codebooks).encode(pad_subvectors(z, 4)),
                                  expected_codes)
    unpadded = quantized.reshape(40, 12) @ subspace_padding_matrix(10, 4).T
    np.testing.assert_allclose(keras.ops.convert_to_numpy(z_quantized), unpadded, rtol=1e-5, atol=1e-6)
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), expected_loss, rtol=1e-5)


def test_padded_codeword_coordinates_are_masked():
    rng = np.random.default_rng(2)
    layer = ProductQuantization(4, 8)
    layer.build((None, 10))
    layer.set_codebooks(rng.normal(size=(4, 8, 3)).astype(np.float32))  # nonzero padding
    books = layer.get_codebooks()
    np.testing.assert_array_equal(books[2:, :, 2], 0.0)
    z = rng.normal(size=(20, 10)).astype(np.float32)
    _, codes = layer(z)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(codes), _brute_force(z, books)[0])


def test_one_sgd_step_on_lq_moves_used_codewords_to_their_means_and_trains_encoder():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 6)).astype(np.float32)
    inputs = keras.Input((6,))
    dense = keras.layers.Dense(10, name="encoder")
    layer = ProductQuantization(4, 8, name="pq")
    model = keras.Model(inputs, layer(dense(inputs))[0])
    layer.set_codebooks(_random_codebooks(rng))
    z = keras.ops.convert_to_numpy(dense(x))
    before, kernel_before = layer.get_codebooks(), dense.kernel.numpy().copy()
    codes, _, _ = _brute_force(z, before)
    lr = 0.1
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr))  # loss: the layer's L_q only
    model.train_on_batch(x)
    after = layer.get_codebooks()
    sub = pad_subvectors(z, 4).reshape(32, 4, 3)
    for m in range(4):
        for word in range(8):
            members = codes[:, m] == word
            if not members.any():
                np.testing.assert_array_equal(after[m, word], before[m, word])
                continue
            # d/dc of mean_i ||z_i - c||^2 over the members = 2 * count / b * (c - mean of members)
            step = lr * 2 * members.sum() / 32 * (sub[members, m].mean(axis=0) - before[m, word])
            np.testing.assert_allclose(after[m, word], before[m, word] + step, rtol=1e-4, atol=1e-6)
    assert np.abs(dense.kernel.numpy() - kernel_before).max() > 1e-4


@pytest.mark.parametrize("reduction, divisor", [("mean", 8), ("sum", 1)])
def test_binary_quantization_bits_signs_loss_and_encoder_gradient(reduction, divisor):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(16, 8)).astype(np.float32)
    signs, bits = BinaryQuantization(reduction, scale="unit")(x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(bits), (x > 0).astype(np.int32))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(signs), np.where(x > 0, 1.0, -1.0))
    inputs = keras.Input((8,))
    dense = keras.layers.Dense(8, kernel_initializer="identity", bias_initializer="zeros")
    layer = BinaryQuantization(reduction, scale="unit")
    model = keras.Model(inputs, layer(dense(inputs))[1])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    model(x)
    residual = x - np.where(x > 0, 1, -1)
    np.testing.assert_allclose(float(layer.losses[0]), (residual**2).sum(1).mean() / divisor, rtol=1e-5)
    model.train_on_batch(x)
    # dL_q/db = mean_i 2 (z_i - sign(z_i)) / divisor, with z = x at the identity start
    expected_bias = -0.1 * (2 * residual).mean(axis=0) / divisor
    np.testing.assert_allclose(dense.bias.numpy(), expected_bias, rtol=1e-4, atol=1e-6)


def test_decode_quantized_reconstructs_from_the_binary_code_with_a_straight_through_gradient():
    x = np.random.default_rng(7).random((32, 12)).astype(np.float32)
    autoencoder, encoder = dense_autoencoder(12, (16, 8), dropout=0.1, seed=0)
    model = QuantizedAutoencoder(autoencoder, encoder, BinaryQuantization(scale="unit"), gamma=0.0,
                                 decode="quantized")
    x_hat, bits = model.predict(x, verbose=0)
    # the same decoder layers applied to sign(z) give x_hat: the decoder reads the code only
    h = keras.ops.convert_to_tensor(2.0 * bits - 1.0)
    for layer in decoder_chain(autoencoder, encoder):
        h = layer(h)
    np.testing.assert_allclose(x_hat, keras.ops.convert_to_numpy(h), rtol=1e-5, atol=1e-6)
    # with gamma = 0 the encoder still learns: L_r reaches it through the straight-through sign
    before = encoder.get_layer("embedding").kernel.numpy().copy()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    model.train_on_batch(x)
    assert np.abs(encoder.get_layer("embedding").kernel.numpy() - before).max() > 1e-6


def test_decode_quantized_needs_a_chain_decoder():
    inputs = keras.Input((6,))
    z = keras.layers.Dense(4, name="embedding")(inputs)
    h = keras.layers.Dense(6)(z)
    skip = keras.layers.Add()([h, inputs])  # reads the input too: not a chain from z
    autoencoder, encoder = keras.Model(inputs, skip), keras.Model(inputs, z)
    with pytest.raises(ValueError, match="chain decoder"):
        QuantizedAutoencoder(autoencoder, encoder, BinaryQuantization(), decode="quantized")
    with pytest.raises(ValueError, match="unknown decode"):
        QuantizedAutoencoder(autoencoder, encoder, BinaryQuantization(), decode="codes")


def test_mean_abs_scale_keeps_the_bits_and_pulls_towards_the_scaled_sign():
    x = np.random.default_rng(8).normal(scale=0.2, size=(16, 8)).astype(np.float32)
    layer = BinaryQuantization("mean", scale="mean_abs")
    values, bits = layer(x)
    scale = np.abs(x).mean(axis=0, keepdims=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(bits), (x > 0).astype(np.int32))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(values), np.where(x > 0, 1, -1) * scale,
                               rtol=1e-6)
    expected = ((x - np.where(x > 0, 1, -1) * scale) ** 2).mean(axis=1).mean()
    np.testing.assert_allclose(float(layer.losses[0]), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="unknown scale 'max'"):
        BinaryQuantization(scale="max")


def _quantized_autoencoder(gamma, seed=0):
    autoencoder, encoder = dense_autoencoder(12, (8, 10), seed=seed)
    layer = ProductQuantization(4, 8, name="pq")
    model = QuantizedAutoencoder(autoencoder, encoder, layer, gamma=gamma)
    layer.set_codebooks(_random_codebooks(np.random.default_rng(seed)))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05))
    return model, autoencoder


def test_decoder_learns_from_reconstruction_only_encoder_and_codebooks_from_both():
    x = np.random.default_rng(5).random((16, 12)).astype(np.float32)
    weights = {}
    for gamma in (0.0, 5.0):
        model, autoencoder = _quantized_autoencoder(gamma)
        model.train_on_batch(x)
        weights[gamma] = {layer.name: [w.numpy() for w in layer.weights]
                          for layer in autoencoder.layers + [model.quantizer] if layer.weights}
    for name in ("decoder_1", "reconstruction"):
        for a, b in zip(weights[0.0][name], weights[5.0][name]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for name in ("encoder_0", "embedding", "pq"):
        assert np.abs(weights[0.0][name][0] - weights[5.0][name][0]).max() > 1e-5


def test_quantized_autoencoder_logs_loss_as_reconstruction_plus_gamma_quantization():
    model, _ = _quantized_autoencoder(0.5)
    x = np.random.default_rng(6).random((64, 12)).astype(np.float32)
    logs = model.fit(x, batch_size=16, epochs=1, verbose=0).history
    expected = logs["reconstruction_loss"][0] + 0.5 * logs["quantization_loss"][0]
    assert logs["loss"][0] == pytest.approx(expected, rel=1e-5)
    codes = model.predict_codes(x)
    assert codes.shape == (64, 4) and codes.min() >= 0 and codes.max() < 8


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="n_codewords"):
        ProductQuantization(4, 0)
    layer = ProductQuantization(4, 8)
    with pytest.raises(ValueError, match="embeddings"):
        layer.build((None, 2, 5))
    layer.build((None, 10))
    with pytest.raises(ValueError, match="codebooks must have shape"):
        layer.set_codebooks(np.zeros((4, 8, 2)))
    with pytest.raises(ValueError, match="gamma"):
        _quantized_autoencoder(-1.0)
    with pytest.raises(ValueError, match="reduction"):
        BinaryQuantization("max")
    autoencoder, _ = dense_autoencoder(12, (8, 10), seed=0)
    _, other_encoder = dense_autoencoder(12, (8, 10), seed=1)
    with pytest.raises(ValueError, match="part of the autoencoder"):
        QuantizedAutoencoder(autoencoder, other_encoder, ProductQuantization(4, 8))
