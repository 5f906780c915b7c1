"""Dense (DEC) and convolutional (DCEC / GAPDCEC) autoencoders: shapes, weight sharing, errors."""
import numpy as np
import pytest

from repro.models.autoencoders import conv3_padding, conv_autoencoder, dense_autoencoder


def test_dense_autoencoder_shapes_and_architecture():
    autoencoder, encoder = dense_autoencoder(784)
    assert autoencoder.output_shape == (None, 784)
    assert encoder.output_shape == (None, 10)
    widths = [layer.units for layer in autoencoder.layers if hasattr(layer, "units")]
    assert widths == [500, 500, 2000, 10, 2000, 500, 500, 784]
    activations = [layer.activation.__name__ for layer in autoencoder.layers if hasattr(layer, "units")]
    assert activations == ["relu"] * 3 + ["linear"] + ["relu"] * 3 + ["linear"]


def test_dense_encoder_shares_weights_with_autoencoder():
    autoencoder, encoder = dense_autoencoder(12, (8, 3), seed=5)
    x = np.random.default_rng(0).random((4, 12)).astype("float32")
    assert np.abs(encoder.predict(x, verbose=0)).sum() > 0
    autoencoder.get_layer("embedding").kernel.assign(np.zeros((8, 3), "float32"))
    np.testing.assert_array_equal(encoder.predict(x, verbose=0), np.zeros((4, 3)))  # bias is 0


def test_dense_seed_makes_weights_reproducible():
    first, _ = dense_autoencoder(12, (8, 3), seed=5)
    second, _ = dense_autoencoder(12, (8, 3), seed=5)
    other, _ = dense_autoencoder(12, (8, 3), seed=6)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])


def test_dense_dropout_option_adds_dropout_layers():
    autoencoder, _ = dense_autoencoder(20, (8, 4), dropout=0.2)
    assert sum("dropout" in layer.name for layer in autoencoder.layers) == 4
    with pytest.raises(ValueError, match="dropout"):
        dense_autoencoder(20, dropout=1.0)


@pytest.mark.parametrize("pooling", ["flatten", "gap"])
@pytest.mark.parametrize("shape, feature_side", [((28, 28, 1), 3), ((16, 16, 1), 2)])
def test_conv_autoencoder_shapes(pooling, shape, feature_side):
    autoencoder, encoder = conv_autoencoder(shape, pooling=pooling)
    x = np.zeros((2,) + shape, dtype="float32")
    assert encoder.predict(x, verbose=0).shape == (2, 10)
    assert autoencoder.predict(x, verbose=0).shape == (2,) + shape
    assert autoencoder.get_layer("conv3").output.shape[1:] == (feature_side, feature_side, 128)
    assert autoencoder.get_layer("decoder_reshape").output.shape[1:] == (feature_side, feature_side, 128)


def test_gap_replaces_flatten_before_the_embedding():
    flat, _ = conv_autoencoder((28, 28, 1), pooling="flatten")
    gap, _ = conv_autoencoder((28, 28, 1), pooling="gap")
    assert flat.get_layer("embedding").kernel.shape == (3 * 3 * 128, 10)
    assert gap.get_layer("embedding").kernel.shape == (128, 10)
    assert gap.get_layer("global_average_pooling") is not None
    # The decoder is DCEC's in both: same layer shapes after the embedding.
    decoder_shapes = lambda m: [tuple(w.shape) for w in m.get_layer("decoder_dense").weights]  # noqa: E731
    assert decoder_shapes(flat) == decoder_shapes(gap)


def test_gap_embedding_is_dense_of_per_map_means():
    autoencoder, encoder = conv_autoencoder((16, 16, 1), pooling="gap")
    x = np.random.default_rng(0).random((3, 16, 16, 1)).astype("float32")
    import keras

    conv3 = keras.Model(autoencoder.inputs, autoencoder.get_layer("conv3").output)
    maps = conv3.predict(x, verbose=0)  # (3, 2, 2, 128)
    dense = autoencoder.get_layer("embedding")
    expected = maps.mean(axis=(1, 2)) @ dense.kernel.numpy() + dense.bias.numpy()
    np.testing.assert_allclose(encoder.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)


def test_conv_errors_name_the_problem():
    with pytest.raises(ValueError, match="cannot mirror"):
        conv_autoencoder((30, 30, 1))
    with pytest.raises(ValueError, match="pooling"):
        conv_autoencoder((28, 28, 1), pooling="max")
    with pytest.raises(ValueError, match="height, width, channels"):
        conv_autoencoder((28, 28))
    assert conv3_padding((28, 28, 1)) == "valid" and conv3_padding((32, 32, 3)) == "same"
