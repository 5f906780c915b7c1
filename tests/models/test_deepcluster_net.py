"""The DeepCluster network: the fixed Sobel layer, the layer names and the probe features."""

import numpy as np

from repro.models.deepcluster_net import LAYERS, NetConfig, build_network, probe_model, sobel_layer
from repro.models.inference import predict


def _sobel_by_hand(gray):
    """Cross-correlation with the Sobel kernels, zero padding, written out."""
    p = np.pad(gray, 1)
    gx = ((p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
          - (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]))
    gy = ((p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
          - (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]))
    return gx, gy


def test_sobel_output_equals_hand_computed_gradients():
    from keras import ops

    rng = np.random.default_rng(0)
    rgb = rng.uniform(size=(2, 9, 7, 3)).astype(np.float32)
    out = np.asarray(ops.convert_to_numpy(sobel_layer()(ops.convert_to_tensor(rgb))))
    assert out.shape == (2, 9, 7, 2)
    for i in range(2):
        gx, gy = _sobel_by_hand(rgb[i].mean(axis=-1))
        np.testing.assert_allclose(out[i, ..., 0], gx, atol=1e-5)
        np.testing.assert_allclose(out[i, ..., 1], gy, atol=1e-5)


def test_sobel_of_a_vertical_edge_is_horizontal_gradient_only():
    from keras import ops

    img = np.zeros((1, 6, 6, 1), np.float32)
    img[:, :, 3:] = 1.0
    out = np.asarray(ops.convert_to_numpy(sobel_layer()(ops.convert_to_tensor(img))))
    np.testing.assert_allclose(out[0, 1:-1, 1:-1, 1], 0.0, atol=1e-6)   # no vertical change inside
    assert np.abs(out[0, 2:4, 2:4, 0]).max() == 4.0                     # 1 + 2 + 1 across the edge


def test_network_layers_and_probe_feature_sizes():
    cfg = NetConfig(conv_widths=(12, 32, 48, 48, 32), fc_widths=(16, 16))
    model = build_network((28, 28, 1), 10, cfg, seed=0)
    assert model.output_shape == (None, 10)
    assert not model.get_layer("sobel").trainable_weights
    for name in LAYERS + ("fc7", "top"):
        model.get_layer(name)
    features = predict(probe_model(model), np.zeros((3, 28, 28, 1), np.float32))
    assert [f.shape[1] for f in features] == [588, 800, 768, 768, 512]


def test_fc7_is_read_before_its_relu_and_the_top_sees_it_after():
    from repro.models.deepcluster_net import feature_model

    model = build_network((28, 28, 1), 10, NetConfig(fc_widths=(16, 16)), seed=0)
    x = np.random.default_rng(0).uniform(size=(64, 28, 28, 1)).astype(np.float32)
    before = predict(feature_model(model, "fc7"), x)
    after = predict(feature_model(model, "fc7_relu"), x)
    assert (before < 0).any()                      # pre-activation: negative values kept
    np.testing.assert_allclose(after, np.maximum(before, 0.0), atol=1e-6)
    assert model.get_layer("top").input.shape[-1] == 16


def test_code_initialisation_matches_the_authors_scales():
    model = build_network((28, 28, 1), 10, NetConfig(), seed=0)
    kernel = model.get_layer("conv3_conv").get_weights()[0]          # 3 x 3, 48 out
    assert abs(kernel.std() / np.sqrt(2.0 / (3 * 3 * 48)) - 1) < 0.05
    fc6 = model.get_layer("fc6").get_weights()[0]
    assert abs(fc6.std() / 0.01 - 1) < 0.05
    keras_default = build_network((28, 28, 1), 10, NetConfig(init="keras"), seed=0)
    assert abs(keras_default.get_layer("fc6").get_weights()[0].std() / 0.01 - 1) > 0.5
