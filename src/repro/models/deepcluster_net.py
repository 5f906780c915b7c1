"""The DeepCluster stage's network: AlexNet with BatchNorm behind a fixed Sobel layer, and the
per-layer probe features.

The paper (Caron et al. 2018, and its code) trains AlexNet -- five conv layers, each followed
by BatchNorm and ReLU, max pooling after conv1, conv2 and conv5, then fc6 / fc7 (4096) and the
top layer -- on Sobel-filtered images: a fixed 1x1 conv to grayscale, then two fixed 3x3
Sobel filters (horizontal and vertical gradients). Here the same shape scaled to 28 x 28
grayscale digits (``paper`` profile on ImageNet: the same code at 224 x 224 RGB is possible
but slow; the stage's ``conv_widths`` then set the widths):

- Sobel: grayscale = the mean of the input channels (one channel: the image itself; the paper
  needs the 1x1 conv only for RGB), then the two Sobel filters -> 2 channels.
- conv1 5x5 stride 1 (AlexNet: 11x11 stride 4 at 224 px), conv2 5x5, conv3-conv5 3x3, all
  "same" padding, each Conv -> BatchNorm -> ReLU; 2x2 max pooling after conv1, conv2, conv5
  (AlexNet: 3x3 stride 2), so the maps are 28, 14, 7, 7, 7 px wide (AlexNet: 55, 27, 13, 13, 13).
- widths ``conv_widths``: AlexNet's 96-256-384-384-256 divided by 8 by default (12-32-48-48-32,
  about 4.7 M multiply-adds per image); fc6 / fc7 ``fc_widths`` (AlexNet 4096; here 256) with
  dropout 0.5 while training.

Layer names: ``conv1`` .. ``conv5`` are the ReLU outputs (the activations the probes read),
``fc6`` / ``fc7`` the fully connected layers' outputs *before* their ReLU (``fc6_relu`` /
``fc7_relu`` after it), ``top`` the classifier on ``fc7_relu``. DeepCluster clusters ``fc7``
before its ReLU, as its authors' code does (facebookresearch/deepcluster main.py, ``main``:
each epoch drops the classifier's last module, fc7's ReLU, before ``compute_features``, and
appends it again for training).

Probe features (:func:`probe_model`): each conv layer's activations average-pooled to a fixed
size, as the paper's linear-probe protocol (about 9600 dims per layer there: conv1 6x6/6,
conv2 4x4/4, conv3-conv4 3x3/3, conv5 2x2/2). Here the pool sizes ``PROBE_POOLS`` (4, 3, 2,
2, 2; stride = size, "same" padding) give 588, 800, 768, 768 and 512 dims at the default
widths -- about the paper's 9600 scaled by the width factor 1/8 and the smaller maps.

Everything is ``keras`` / ``keras.ops``: it runs on the tensorflow, jax and torch backends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")
PROBE_POOLS = {"conv1": 4, "conv2": 3, "conv3": 2, "conv4": 2, "conv5": 2}
SOBEL_X = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], dtype=np.float32)
SOBEL_Y = SOBEL_X.T.copy()


@dataclass
class NetConfig:
    """Widths of the scaled AlexNet (see the module docstring)."""

    conv_widths: tuple[int, ...] = (12, 32, 48, 48, 32)
    fc_widths: tuple[int, ...] = (256, 256)
    dropout: float = 0.5
    sobel: bool = True
    init: str = "code"      # "code": the authors' initialisation; "keras": Keras' defaults

    def __post_init__(self):
        if len(self.conv_widths) != 5 or len(self.fc_widths) != 2:
            raise ValueError("net: conv_widths needs 5 widths (conv1-conv5), fc_widths 2 (fc6, fc7)")
        if min(self.conv_widths) < 1 or min(self.fc_widths) < 1:
            raise ValueError(f"net: widths must be >= 1, got {self.conv_widths}, {self.fc_widths}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"net.dropout must be in [0, 1), got {self.dropout}")
        if self.init not in ("code", "keras"):
            raise ValueError(f"net.init must be 'code' or 'keras', got {self.init!r}")


def sobel_layer():
    """The fixed Sobel layer: channel mean (grayscale) then the x and y Sobel filters
    ("same" padding, zeros outside) -> (n, h, w, 2). No trainable weights."""
    import keras
    from keras import ops

    class Sobel(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.kernel = np.stack([SOBEL_X, SOBEL_Y], axis=-1)[:, :, None, :]  # (3, 3, 1, 2)

        def call(self, x):
            gray = ops.mean(x, axis=-1, keepdims=True)
            # keras.ops.conv is a cross-correlation, as PyTorch's conv2d in the paper's code
            return ops.conv(gray, ops.convert_to_tensor(self.kernel, dtype=x.dtype),
                            strides=1, padding="same")

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], 2)

    return Sobel(name="sobel")


def build_network(input_shape, n_outputs: int, cfg: NetConfig, *, seed: int):
    """Sobel -> conv1..conv5 (Conv, BN, ReLU) -> fc6, fc7 -> ``top`` (logits, ``n_outputs``).

    Weights initialised from ``seed``; ``cfg.init`` "code" as the authors' code
    (facebookresearch/deepcluster models/alexnet.py, ``AlexNet._initialize_weights``): conv
    kernels N(0, 2 / (k * k * out_channels)), linear kernels N(0, 0.01^2), biases 0, BN at
    identity; "keras": Keras' defaults (Glorot uniform)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    if cfg.init == "code":
        conv_init = {"kernel_initializer": keras.initializers.VarianceScaling(
            2.0, mode="fan_out", distribution="untruncated_normal")}
        dense_init = {"kernel_initializer": keras.initializers.RandomNormal(stddev=0.01)}
    else:
        conv_init, dense_init = {}, {}
    inputs = keras.Input(shape=tuple(input_shape), name="images")
    h = sobel_layer()(inputs) if cfg.sobel else inputs
    kernels = (5, 5, 3, 3, 3)
    for i, (width, size) in enumerate(zip(cfg.conv_widths, kernels), start=1):
        h = layers.Conv2D(width, size, padding="same", name=f"conv{i}_conv", **conv_init)(h)
        h = layers.BatchNormalization(name=f"conv{i}_bn")(h)
        h = layers.ReLU(name=f"conv{i}")(h)
        if i in (1, 2, 5):
            h = layers.MaxPooling2D(2, name=f"pool{i}")(h)
    h = layers.Flatten(name="flatten")(h)
    for name, width in zip(("fc6", "fc7"), cfg.fc_widths):
        if cfg.dropout > 0:
            h = layers.Dropout(cfg.dropout, name=f"drop_{name}")(h)
        h = layers.Dense(width, name=name, **dense_init)(h)
        h = layers.ReLU(name=f"{name}_relu")(h)
    outputs = layers.Dense(n_outputs, name="top", **dense_init)(h)
    return keras.Model(inputs, outputs, name="alexnet_bn_sobel")


def feature_model(model, layer: str = "fc7"):
    """``images -> the named layer's output`` sharing ``model``'s weights (``fc7``: fc7 before
    its ReLU, DeepCluster's clustering features, the top layer removed)."""
    import keras

    return keras.Model(model.input, model.get_layer(layer).output, name=f"to_{layer}")


def probe_model(model, layers=LAYERS):
    """``images -> [pooled, flattened activations of each of layers]`` (see PROBE_POOLS)."""
    import keras
    from keras import layers as kl

    outputs = []
    for name in layers:
        size = PROBE_POOLS[name]
        pooled = kl.AveragePooling2D(size, strides=size, padding="same",
                                     name=f"probe_pool_{name}")(model.get_layer(name).output)
        outputs.append(kl.Flatten(name=f"probe_{name}")(pooled))
    return keras.Model(model.input, outputs, name="probe_features")
