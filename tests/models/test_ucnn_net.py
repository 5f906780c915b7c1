"""The UCNN network: shapes and layer names, the FC9 sub-model sharing the weights, chain
sub-models, and the supervised pretraining of the trunk."""

import numpy as np
import pytest

from repro.models.ucnn_net import (PretrainConfig, PretrainedTrunk, UCNNNetConfig, build_ucnn,
                                   chain_model, layer_input_shape, load_trunk, pretrain_supervised)

TINY = UCNNNetConfig(conv_widths=(4, 8, 8, 8, 8), adaptation_widths=(16, 16), fc9_width=8)


def _digits(n=24, side=12, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.uniform(size=(n, side, side, 1)).astype(np.float32) * 0.2
    x[y == 0, :4] += 0.8
    x[y == 1, :, :4] += 0.8
    return x, y


def test_ucnn_layers_shapes_and_softmax_output():
    net = build_ucnn((28, 28, 1), 10, UCNNNetConfig(), seed=0)
    names = [layer.name for layer in net.model.layers]
    assert names == ["images", "conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5",
                     "conv6", "conv7", "conv8", "gmp", "fc9", "softmax"]
    shapes = {name: net.model.get_layer(name).output.shape[1:] for name in names[1:]}
    assert shapes["conv1"] == (28, 28, 12) and shapes["conv2"] == (14, 14, 32)
    assert shapes["conv5"] == (7, 7, 32)
    assert shapes["conv6"] == (7, 7, 768) and shapes["conv7"] == (7, 7, 256)
    assert shapes["conv8"] == (7, 7, 10) and shapes["gmp"] == (10,)
    assert shapes["fc9"] == (128,) and shapes["softmax"] == (10,)
    assert net.model.get_layer("conv1").kernel.shape == (5, 5, 1, 12)
    assert net.model.get_layer("conv2").kernel.shape == (5, 5, 12, 32)
    assert net.model.get_layer("conv6").kernel.shape == (3, 3, 32, 768)
    x = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32)
    p = np.asarray(net.model.predict_on_batch(x))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert np.asarray(net.features.predict_on_batch(x)).shape == (3, 128)


def test_fc9_submodel_shares_the_weights_and_chains_compose():
    x, _ = _digits()
    net = build_ucnn(x.shape[1:], 3, TINY, seed=0)
    fc9 = net.model.get_layer("fc9")
    kernel, bias = fc9.get_weights()
    fc9.set_weights([np.zeros_like(kernel), np.linspace(-1, 1, len(bias)).astype(np.float32)])
    out = np.asarray(net.features.predict_on_batch(x[:2]))
    np.testing.assert_allclose(out, np.maximum(np.linspace(-1, 1, len(bias)), 0)[None].repeat(2, 0),
                               rtol=1e-6, atol=1e-7)
    fc9.set_weights([kernel, bias])
    full = np.asarray(net.features.predict_on_batch(x))
    prefix = chain_model(net.model, None, "gmp")
    head = chain_model(net.model, "fc9", "fc9")
    np.testing.assert_allclose(np.asarray(head.predict_on_batch(prefix.predict_on_batch(x))), full,
                               rtol=1e-6, atol=1e-7)
    assert layer_input_shape(net.model, "conv6") == (3, 3, 8)
    assert chain_model(net.model, None, "conv5", flatten=True).output_shape == (None, 72)
    with pytest.raises(ValueError, match="no layer"):
        chain_model(net.model, None, "fc7")


def test_pretrain_trunk_returns_conv1_to_conv5_loadable_into_a_ucnn():
    x, y = _digits()
    trunk = pretrain_supervised(x, y, TINY, PretrainConfig(epochs=2, batch_size=8), seed=0)
    assert isinstance(trunk, PretrainedTrunk)
    assert sorted(trunk.weights) == ["conv1", "conv2", "conv3", "conv4", "conv5"]
    assert len(trunk.history["loss"]) == 2
    net = build_ucnn(x.shape[1:], 5, TINY, seed=1)
    fc9_before = net.model.get_layer("fc9").get_weights()[0].copy()
    load_trunk(net.model, trunk)
    for name, weights in trunk.weights.items():
        for got, want in zip(net.model.get_layer(name).get_weights(), weights):
            np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(net.model.get_layer("fc9").get_weights()[0], fc9_before)
    wider = build_ucnn(x.shape[1:], 5, UCNNNetConfig(conv_widths=(5, 8, 8, 8, 8),
                                                     adaptation_widths=(16, 16), fc9_width=8),
                       seed=0)
    with pytest.raises(ValueError, match="pretrained conv1 has shapes"):
        load_trunk(wider.model, trunk)
    with pytest.raises(ValueError, match="missing layers"):
        load_trunk(net.model, {"conv1": trunk.weights["conv1"]})


def test_pretrain_adaptation_scope_returns_conv1_to_fc9():
    x, y = _digits()
    trunk = pretrain_supervised(x, y, TINY, PretrainConfig(epochs=1, batch_size=8), seed=0,
                                scope="adaptation", k=4)
    assert sorted(trunk.weights) == ["conv1", "conv2", "conv3", "conv4", "conv5", "conv6",
                                     "conv7", "conv8", "fc9"]
    net = build_ucnn(x.shape[1:], 4, TINY, seed=3)
    load_trunk(net.model, trunk)
    np.testing.assert_array_equal(net.model.get_layer("conv8").get_weights()[0],
                                  trunk.weights["conv8"][0])
    with pytest.raises(ValueError, match="needs k"):
        pretrain_supervised(x, y, TINY, seed=0, scope="adaptation")


def test_bad_network_input():
    x, y = _digits()
    with pytest.raises(ValueError, match="conv_widths"):
        UCNNNetConfig(conv_widths=(4, 4, 4))
    with pytest.raises(ValueError, match=">= 1"):
        UCNNNetConfig(fc9_width=0)
    with pytest.raises(ValueError, match="k"):
        build_ucnn((12, 12, 1), 1, TINY, seed=0)
    with pytest.raises(ValueError, match="at least 4 x 4"):
        build_ucnn((3, 3, 1), 4, TINY, seed=0)
    with pytest.raises(ValueError, match="height, width, channels"):
        pretrain_supervised(x[..., 0], y, TINY, seed=0)
    with pytest.raises(ValueError, match="labels must be"):
        pretrain_supervised(x, y[:-1], TINY, seed=0)
    with pytest.raises(ValueError, match="two label classes"):
        pretrain_supervised(x, np.zeros(len(x), int), TINY, seed=0)
    with pytest.raises(ValueError, match="momentum"):
        PretrainConfig(momentum=1.0)
    with pytest.raises(ValueError, match="optimizer must be 'sgd' or 'adam'"):
        PretrainConfig(optimizer="rmsprop")


def test_adam_pretraining_learns_the_toy_classes():
    """The stage's pretraining optimizer: Adam separates the three toy classes."""
    x, y = _digits(n=96)
    trunk = pretrain_supervised(x, y, TINY, PretrainConfig(epochs=30, batch_size=16, optimizer="adam",
                                                           learning_rate=0.01, dropout=0.0),
                                seed=0, scope="adaptation", k=4)
    assert trunk.history["accuracy"][-1] >= 0.9


@pytest.fixture
def fake_vgg_weights(monkeypatch):
    """VGG16's conv weights without the download: keras.applications' own VGG16 architecture,
    randomly initialised (weights=None), standing in for the ImageNet file."""
    import keras

    from repro.models import ucnn_net

    vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    weights = [[np.asarray(w) for w in layer.get_weights()] for layer in vgg.layers
               if isinstance(layer, keras.layers.Conv2D)]
    monkeypatch.setattr(ucnn_net, "vgg16_imagenet_weights", lambda: weights)
    return vgg, weights


VGG = UCNNNetConfig(adaptation_widths=(8, 8), fc9_width=8, trunk="vgg16-imagenet")


def test_vgg16_trunk_is_keras_applications_vgg16_with_its_preprocessing(fake_vgg_weights):
    import keras

    vgg, weights = fake_vgg_weights
    net = build_ucnn((32, 32, 3), 4, VGG, seed=0)
    convs = [layer.name for layer in net.model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs[:13] == ["conv1_1", "conv1", "conv2_1", "conv2", "conv3_1", "conv3_2", "conv3",
                          "conv4_1", "conv4_2", "conv4", "conv5_1", "conv5_2", "conv5"]
    for name, (kernel, bias) in zip(convs[:13], weights):
        np.testing.assert_array_equal(net.model.get_layer(name).get_weights()[0], kernel)
    assert net.model.get_layer("conv5").output.shape[1:] == (2, 2, 512)   # no pool after block 5
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    conv5 = chain_model(net.model, None, "conv5")
    vgg_conv5 = keras.Model(vgg.input, vgg.get_layer("block5_conv3").output)
    expected = vgg_conv5.predict_on_batch(keras.applications.vgg16.preprocess_input(x * 255.0))
    np.testing.assert_allclose(np.asarray(conv5.predict_on_batch(x)), np.asarray(expected),
                               rtol=1e-4, atol=1e-3)


def test_vgg16_trunk_stays_frozen_in_pretraining_and_loads(fake_vgg_weights):
    _, weights = fake_vgg_weights
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(12, 32, 32, 3)).astype(np.float32), np.arange(12) % 3
    trained = pretrain_supervised(x, y, VGG, PretrainConfig(epochs=1, batch_size=6), seed=0,
                                  scope="adaptation", k=4)
    assert set(trained.weights) >= {"conv1_1", "conv5", "conv6", "conv8", "fc9"}
    np.testing.assert_array_equal(trained.weights["conv3_2"][0], weights[5][0])   # frozen
    trunk_only = pretrain_supervised(x, y, VGG, PretrainConfig(epochs=1), seed=0, scope="trunk")
    assert trunk_only.history == {} and "conv6" not in trunk_only.weights
    net = build_ucnn((32, 32, 3), 4, VGG, seed=1)
    load_trunk(net.model, trained)
    np.testing.assert_array_equal(net.model.get_layer("fc9").get_weights()[0],
                                  trained.weights["fc9"][0])
    with pytest.raises(ValueError, match="missing layers"):
        load_trunk(net.model, {"conv1": trained.weights["conv1"]})


def test_vgg16_weights_offline_name_the_file(monkeypatch):
    import keras

    from repro.models import ucnn_net

    def no_download(**kwargs):
        raise OSError("URL fetch failure: no internet")

    monkeypatch.setattr(keras.applications, "VGG16", no_download)
    ucnn_net.vgg16_imagenet_weights.cache_clear()
    with pytest.raises(RuntimeError, match="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        ucnn_net.vgg16_imagenet_weights()
    ucnn_net.vgg16_imagenet_weights.cache_clear()
    with pytest.raises(ValueError, match="at least 16 x 16"):
        build_ucnn((12, 12, 1), 4, VGG, seed=0)
    with pytest.raises(ValueError, match="trunk must be one of"):
        UCNNNetConfig(trunk="alexnet")


def test_ucnn_trains_on_the_pretrained_vgg16_trunk(fake_vgg_weights):
    from repro.methods.ucnn import UCNN, UCNNConfig

    rng = np.random.default_rng(1)
    x, y = rng.uniform(size=(16, 32, 32, 3)).astype(np.float32), np.arange(16) % 4
    trained = pretrain_supervised(x, y, VGG, PretrainConfig(epochs=1, batch_size=8), seed=0,
                                  scope="adaptation", k=4)
    result = UCNN(4, UCNNConfig(batch_size=8, epochs=1), VGG,
                  pretrained=trained).fit(x, seed=0, y=y)
    # the labels are the final net's nearest centroids (noise images: no quality to ask for)
    from repro.methods.ucnn import nearest_centroid

    features = np.asarray(result.info["net"].features.predict_on_batch(x), np.float64)
    expected, _ = nearest_centroid(features, result.info["centroids"])
    np.testing.assert_array_equal(result.labels, expected)
    net = result.info["net"].model       # fc9_softmax: the trunk and conv6-conv8 did not move
    np.testing.assert_array_equal(net.get_layer("conv5").get_weights()[0], trained.weights["conv5"][0])
    np.testing.assert_array_equal(net.get_layer("conv8").get_weights()[0], trained.weights["conv8"][0])
