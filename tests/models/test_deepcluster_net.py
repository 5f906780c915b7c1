"""The DeepCluster network: the fixed Sobel layer, the layer names and the probe features."""

import numpy as np

from repro.models.deepcluster_net import (LAYERS, NetConfig, build_network, predict_in_chunks,
                                          probe_model, sobel_layer)


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
    features = predict_in_chunks(probe_model(model), np.zeros((3, 28, 28, 1), np.float32))
    assert [f.shape[1] for f in features] == [588, 800, 768, 768, 512]
