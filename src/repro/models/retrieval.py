"""The DQN stage's backbone: an AlexNet-style network and its pretraining.

The DQN paper fine-tunes an ImageNet-pretrained AlexNet (conv1-conv5, fc6, fc7) with a tanh
bottleneck on top; every method of one table shares that backbone and the training images.
Here, two backbones:

- ``convnet`` (the stand-in): five conv layers AlexNet-style, scaled to 28 x 28 grayscale
  digits -- conv1 5x5 and conv2 5x5 each followed by 2x2 max pooling, conv3-conv5 3x3, a
  final 2x2 max pooling, widths ``conv_widths`` (AlexNet's 96-256-384-384-256 divided by 6
  and rounded: 16-43-64-64-43 by default, about 8 M multiply-adds per 28 x 28 image) -- then
  fc6 and fc7 (``fc_widths``; AlexNet's 4096 scaled to 256). It is pretrained *supervised on USPS* (a labelled source other than
  the target, as ImageNet is for CIFAR-10), see :func:`pretrain_backbone`.
- ``vgg16-imagenet`` (the paper profile on the paper's datasets): keras.applications VGG16
  with its ImageNet weights up to fc2 (AlexNet is not in keras.applications: a stated
  difference). The weights are downloaded by Keras; offline, a clear error names the file.

Layers are named ``conv1`` .. ``conv5``, ``fc6``, ``fc7`` so the methods can split the
network into a frozen *trunk* (conv1-conv5) and a fine-tuned *head* (fc6, fc7 and the
method's own top).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np
from keras import layers

from repro.methods.pretrain import make_optimizer

VGG16_WEIGHTS = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
VGG16_NOTOP_WEIGHTS = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


@dataclass
class BackboneConfig:
    """``kind``: "convnet" (stand-in, pretrained on USPS) | "vgg16-imagenet" (paper data)."""

    kind: str = "convnet"
    conv_widths: tuple[int, ...] = (16, 43, 64, 64, 43)
    fc_widths: tuple[int, ...] = (256, 256)
    pretrain_epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    dropout: float = 0.5          # AlexNet's dropout on fc6 / fc7 while training
    pretrain_seed: int = 0        # the stand-in's one pretraining (the paper: one ImageNet model)

    def __post_init__(self):
        if self.kind not in ("convnet", "vgg16-imagenet"):
            raise ValueError(f"backbone.kind: unknown {self.kind!r}; known: convnet, vgg16-imagenet")
        if len(self.conv_widths) != 5 or len(self.fc_widths) != 2:
            raise ValueError("backbone: conv_widths needs 5 widths (conv1-conv5), fc_widths 2 (fc6, fc7)")


@dataclass
class Backbone:
    """A pretrained backbone: ``trunk`` (images -> conv5 features, frozen or not) and the
    pretrained fc6 / fc7 weights the heads start from."""

    trunk: object                       # keras.Model, images -> flat conv5 features
    fc_weights: list = field(default_factory=list)   # [(kernel, bias) of fc6, fc7]
    cfg: BackboneConfig | None = None
    source_accuracy: float = float("nan")   # top-1 on the pretraining set's held-out part

    def features(self, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """conv5 features of ``x`` (float32), prepared and computed in chunks of images
        (``Model.predict``: for the conv trunk its compiled step beats direct calls, 16384
        digits 5.0 s vs 6.5 s here, unlike the small heads' :func:`~repro.models.inference.forward`)."""
        chunks = [np.asarray(self.trunk.predict(self.prepare(x[i:i + 4096]), batch_size=batch_size,
                                                verbose=0), dtype=np.float32)
                  for i in range(0, len(x), 4096)]
        return np.concatenate(chunks) if chunks else np.zeros((0,), np.float32)

    def prepare(self, x: np.ndarray) -> np.ndarray:
        """Images in [0, 1] as the trunk reads them (VGG16: RGB resized to 224 x 224, 0-255,
        its ImageNet preprocessing)."""
        if self.cfg is not None and self.cfg.kind == "vgg16-imagenet":
            x = np.asarray(x, np.float32)
            if x.shape[-1] == 1:
                x = np.repeat(x, 3, axis=-1)
            if x.shape[1:3] != (224, 224):
                x = np.asarray(keras.ops.image.resize(x, (224, 224)))
            return keras.applications.vgg16.preprocess_input(x * 255.0)
        return x

    def fc7(self, conv5: np.ndarray) -> np.ndarray:
        """fc7 features (ReLU) from conv5 features, with the pretrained weights (KSH-D's input)."""
        h = conv5
        for kernel, bias in self.fc_weights:
            h = np.maximum(h @ kernel + bias, 0.0)
        return h.astype(np.float32)


def build_trunk(input_shape, cfg: BackboneConfig):
    """conv1-conv5 + pooling + flatten (see the module docstring)."""
    w = cfg.conv_widths
    inputs = keras.Input(shape=tuple(input_shape))
    h = layers.Conv2D(w[0], 5, padding="same", activation="relu", name="conv1")(inputs)
    h = layers.MaxPooling2D(2, name="pool1")(h)
    h = layers.Conv2D(w[1], 5, padding="same", activation="relu", name="conv2")(h)
    h = layers.MaxPooling2D(2, name="pool2")(h)
    h = layers.Conv2D(w[2], 3, padding="same", activation="relu", name="conv3")(h)
    h = layers.Conv2D(w[3], 3, padding="same", activation="relu", name="conv4")(h)
    h = layers.Conv2D(w[4], 3, padding="same", activation="relu", name="conv5")(h)
    h = layers.MaxPooling2D(2, name="pool5")(h)
    return keras.Model(inputs, layers.Flatten(name="flatten")(h), name="trunk")


def fc_layers(h, cfg: BackboneConfig, weights=None, *, dropout: float | None = None):
    """fc6 and fc7 (ReLU, dropout while training) on ``h``; ``weights`` [(kernel, bias)] to
    start from the pretrained ones."""
    rate = cfg.dropout if dropout is None else dropout
    for i, (name, width) in enumerate(zip(("fc6", "fc7"), cfg.fc_widths)):
        if weights is not None:
            width = int(np.asarray(weights[i][0]).shape[1])
        dense = layers.Dense(width, activation="relu", name=name)
        h = dense(h)
        if weights is not None:
            dense.set_weights([np.asarray(w) for w in weights[i]])
        if rate > 0:
            h = layers.Dropout(rate, name=f"drop{6 + i}")(h)
    return h


def pretrain_backbone(x: np.ndarray, y: np.ndarray, cfg: BackboneConfig, *, seed: int,
                      verbose: int = 2, log=print) -> Backbone:
    """Supervised pretraining of the stand-in backbone on a labelled source set (USPS).

    Softmax classifier on fc7, Adam, ``cfg.pretrain_epochs`` epochs; 10% of the source held out
    to report its top-1 accuracy (``source_accuracy``)."""
    if cfg.kind != "convnet":
        raise ValueError("pretrain_backbone trains the stand-in convnet; "
                         "use imagenet_backbone for vgg16-imagenet")
    keras.utils.set_random_seed(seed)
    y = np.asarray(y)
    n_classes = int(y.max()) + 1
    order = np.random.default_rng(seed).permutation(len(x))
    held = order[: len(x) // 10]
    fit = order[len(x) // 10:]
    trunk = build_trunk(x.shape[1:], cfg)
    inputs = keras.Input(shape=x.shape[1:])
    h = fc_layers(trunk(inputs), cfg)
    outputs = layers.Dense(n_classes, activation="softmax", name="source_classes")(h)
    model = keras.Model(inputs, outputs, name="backbone_pretraining")
    model.compile(optimizer=make_optimizer("adam", cfg.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    log(f"pretraining the backbone on the source set ({len(fit)} images, "
        f"{cfg.pretrain_epochs} epochs)")
    model.fit(x[fit], y[fit], epochs=cfg.pretrain_epochs, batch_size=cfg.batch_size,
              shuffle=True, verbose=verbose)
    pred = model.predict(x[held], batch_size=512, verbose=0).argmax(axis=1)
    weights = [tuple(model.get_layer(name).get_weights()) for name in ("fc6", "fc7")]
    return Backbone(trunk, weights, cfg, float((pred == y[held]).mean()))


def vgg16_imagenet(include_top: bool):
    """keras.applications VGG16 with its ImageNet weights (downloaded by Keras into
    ~/.keras/models). Offline without the weights file: a clear error naming it."""
    try:
        return keras.applications.VGG16(weights="imagenet", include_top=include_top)
    except Exception as exc:  # the download failed: no internet and nothing cached
        name = VGG16_WEIGHTS if include_top else VGG16_NOTOP_WEIGHTS
        raise RuntimeError(
            f"the ImageNet weights of VGG16 ({name}) are not in the Keras cache "
            f"(~/.keras/models) and could not be downloaded: {exc}") from exc


def imagenet_backbone(cfg: BackboneConfig) -> Backbone:
    """keras.applications VGG16 with ImageNet weights: trunk = conv blocks + flatten, fc6 /
    fc7 = its fc1 / fc2. Offline without the weights file: a clear error naming it."""
    vgg = vgg16_imagenet(include_top=True)
    trunk = keras.Model(vgg.input, vgg.get_layer("flatten").output, name="trunk")
    weights = [tuple(vgg.get_layer(name).get_weights()) for name in ("fc1", "fc2")]
    return Backbone(trunk, weights, cfg)
