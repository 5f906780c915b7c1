"""The UCNN network (Hsu & Lin, ICIP 2017, Sec. 2) scaled to 28 x 28 x 1 digits, and the
supervised pretraining of its lower layers (conv1-conv5, or conv1-FC9).

Paper: "five convolutional layers Conv1-Conv5 adopted from the first five convolutional layers
of AlexNet, followed by three adaptation layers (Conv6-8) with channel numbers 6144, 2048, and
k ... all with 3 x 3 kernels followed by a global max-pooling that finds the maximum value for
each channel of Conv8 so that the size of the output of global max-pooling is 1 x k. Finally,
we concatenate a fully connected layer (FC9) and Softmax layers" (the layout of Oquab et al.
2015, ref. [15]). The network is initialised from an ImageNet-trained model; the stage
pretrains on labelled digits instead (:func:`pretrain_supervised`; :func:`load_trunk` puts
its weights into a UCNN, the layers it does not return keep their seeded random start). The
UCNN stage uses its scope ``"adaptation"`` (repro.papers.ucnn: the paper's network [15] is
trained as a whole on ImageNet; with frozen random adaptation layers, an uncommitted quick
run of 2026-12-01 gave UCNN and Baselines I-III NMI of 0.05-0.25, far below the others).

Here, as ``deepcluster_net`` scales AlexNet to 28 x 28 x 1:

- conv1 5x5 (AlexNet: 11x11 stride 4 at 224 px), conv2 5x5, conv3-conv5 3x3, stride 1, "same"
  padding, ReLU; 2x2 max pooling after conv1 and conv2 (AlexNet: 3x3 stride 2), so the maps
  are 28, 14, 7, 7, 7 px wide. No pooling after conv5 (the adaptation layers read conv5's
  7 x 7 map; the global max pooling after conv8 does the spatial reduction). No local response
  normalisation (AlexNet) and no BatchNorm (neither is in the paper's description), so a
  forward pass is the same in training and inference mode.
- widths ``conv_widths``: AlexNet's 96-256-384-384-256 divided by 8 by default (12-32-48-48-32);
  conv6 / conv7 ``adaptation_widths``: the paper's 6144 and 2048 divided by the same 8
  (768, 256); conv8 has ``k`` channels. conv6, conv7 ReLU; conv8 linear (its k maps are the
  per-cluster score maps whose maxima are pooled, as Oquab's last adaptation layer).
  At the default widths conv7 (768 -> 256 channels, 3x3, 7x7 map: ~87 M multiply-adds per
  image) dominates the cost, as 6144 -> 2048 does in the paper; make it narrower for CPU runs.
- global max pooling -> (k,); FC9 ``fc9_width`` units with ReLU (Eq. 1's ``max(h, 0)``; the
  width is not given in the paper: 128 by default); ``softmax``: a dense layer of k units with
  softmax activation (the classifier trained on the pseudo-labels).

``trunk="vgg16-imagenet"`` (the paper profile, on ILSVRC / Places images): conv1-conv5 are
keras.applications VGG16's five convolutional blocks with its ImageNet weights (AlexNet is not
in keras.applications: a stated difference) -- 13 3x3 convolutions, 2x2 max pooling after
blocks 1-4 (none after block 5, as above), each block's last convolution named ``conv1`` ..
``conv5`` and the others ``conv<b>_<i>`` -- behind a ``vgg_preprocess`` layer doing VGG16's
own input preprocessing (``keras.applications.vgg16.preprocess_input`` of the images in
[0, 1] x 255; grey images repeated to 3 channels). The weights are downloaded by Keras;
offline, a clear error names the file. ``conv_widths`` is not used then.

Layer names: ``conv1`` .. ``conv8`` (ReLU outputs for conv1-conv7), ``pool1``, ``pool2``,
``gmp``, ``fc9`` (the clustering features), ``softmax`` (probabilities). The network is a
plain chain, so sub-models (``images -> fc9``, ``gmp output -> softmax`` ...) can be built by
re-applying its layers (:func:`chain_model`); they share the weights.

Everything is ``keras`` / ``keras.ops``: it runs on the tensorflow, jax and torch backends.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

TRUNK_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")
KERNELS = {"conv1": 5, "conv2": 5, "conv3": 3, "conv4": 3, "conv5": 3}
POOLED = ("conv1", "conv2")
TRUNKS = ("scaled", "vgg16-imagenet")
ADAPTATION_LAYERS = ("conv6", "conv7", "conv8", "fc9")
# keras.applications VGG16's convolutional blocks (widths of their 3x3 convolutions)
VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


@dataclass
class UCNNNetConfig:
    """Widths of the scaled UCNN and its trunk: "scaled" (AlexNet-style, pretrained by the
    stage) or "vgg16-imagenet" (see the module docstring)."""

    conv_widths: tuple[int, ...] = (12, 32, 48, 48, 32)
    adaptation_widths: tuple[int, ...] = (768, 256)
    fc9_width: int = 128
    trunk: str = "scaled"

    def __post_init__(self):
        if self.trunk not in TRUNKS:
            raise ValueError(f"ucnn net: trunk must be one of {TRUNKS}, got {self.trunk!r}")
        self.conv_widths = tuple(int(w) for w in self.conv_widths)
        self.adaptation_widths = tuple(int(w) for w in self.adaptation_widths)
        if len(self.conv_widths) != 5 or len(self.adaptation_widths) != 2:
            raise ValueError("ucnn net: conv_widths needs 5 widths (conv1-conv5), "
                             "adaptation_widths 2 (conv6, conv7; conv8 has k channels)")
        if min(self.conv_widths + self.adaptation_widths) < 1 or self.fc9_width < 1:
            raise ValueError(f"ucnn net: widths must be >= 1, got {self.conv_widths}, "
                             f"{self.adaptation_widths}, fc9 {self.fc9_width}")


@dataclass
class PretrainConfig:
    """Supervised pretraining of the lower layers with a temporary classifier (the stand-in for the
    paper's ImageNet-trained AlexNet): by default SGD with momentum as AlexNet (lr 0.01, momentum
    0.9, weight decay 5e-4), dropout 0.5 before the classifier; ``optimizer="adam"`` uses Adam
    (``learning_rate``, decoupled ``weight_decay``) instead. The UCNN stage uses Adam, lr 1e-3,
    so that the stand-in model is a trained model as the paper's ImageNet one is: in a check of
    2026-12-01 (not part of the reports; quick settings, 10000 digits 0-4) SGD on the whole
    chain to FC9 (no BatchNorm, conv8's k maps max-pooled) reached 49% training accuracy after
    2 epochs, Adam 97% after 3. Each report's run.log shows its pretraining accuracy per epoch."""

    epochs: int = 5
    batch_size: int = 128
    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    dropout: float = 0.5
    optimizer: str = "sgd"      # "adam": Adam (momentum unused), for short CPU budgets

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"pretrain: epochs and batch_size must be >= 1, got "
                             f"{self.epochs}, {self.batch_size}")
        if self.learning_rate <= 0 or not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"pretrain: learning_rate > 0 and momentum in [0, 1) needed, got "
                             f"{self.learning_rate}, {self.momentum}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"pretrain: optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if self.weight_decay < 0 or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"pretrain: weight_decay >= 0 and dropout in [0, 1) needed, got "
                             f"{self.weight_decay}, {self.dropout}")


class UCNNNet(NamedTuple):
    """``model``: images -> softmax probabilities (k); ``features``: images -> FC9 features,
    a sub-model sharing ``model``'s weights."""

    model: object
    features: object


@dataclass
class PretrainedTrunk:
    """The pretrained layers' weights (``{name: [kernel, bias]}``: conv1-conv5, or conv1-conv8
    and fc9) and the pretraining's Keras history."""

    weights: dict
    history: dict = field(default_factory=dict)


def _check_input_shape(input_shape) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape}")
    if shape[0] < 4 or shape[1] < 4:
        raise ValueError(f"images must be at least 4 x 4 (two 2x2 poolings), got {shape}")
    return shape


def trunk_layer_names(cfg: UCNNNetConfig) -> tuple[str, ...]:
    """The names of the trunk's convolutions (the layers with weights below conv6)."""
    if cfg.trunk == "scaled":
        return TRUNK_LAYERS
    return tuple(f"conv{b}" if i == len(block) else f"conv{b}_{i}"
                 for b, block in enumerate(VGG16_BLOCKS, start=1)
                 for i in range(1, len(block) + 1))


@functools.lru_cache(maxsize=1)
def vgg16_imagenet_weights() -> list:
    """[kernel, bias] of VGG16's 13 convolutions in order, with its ImageNet weights
    (:func:`repro.models.retrieval.vgg16_imagenet`: offline without the file, a clear error
    naming it; read once per process)."""
    import keras

    from repro.models.retrieval import vgg16_imagenet

    vgg = vgg16_imagenet(include_top=False)
    convs = [layer for layer in vgg.layers if isinstance(layer, keras.layers.Conv2D)]
    return [[np.asarray(w) for w in layer.get_weights()] for layer in convs]


def _vgg_preprocess(x):
    """keras.applications' VGG16 preprocessing of images in [0, 1] (grey: repeated to RGB)."""
    import keras
    from keras import ops

    if x.shape[-1] == 1:
        x = ops.repeat(x, 3, axis=-1)
    return keras.applications.vgg16.preprocess_input(x * 255.0)


def _trunk_layers(cfg: UCNNNetConfig) -> list:
    from keras import layers

    if cfg.trunk == "vgg16-imagenet":
        names = iter(trunk_layer_names(cfg))
        out = [layers.Lambda(_vgg_preprocess, name="vgg_preprocess")]
        for b, block in enumerate(VGG16_BLOCKS, start=1):
            out += [layers.Conv2D(width, 3, padding="same", activation="relu", name=next(names))
                    for width in block]
            if b < len(VGG16_BLOCKS):
                out.append(layers.MaxPooling2D(2, name=f"pool{b}"))
        return out
    out = []
    for name, width in zip(TRUNK_LAYERS, cfg.conv_widths):
        out.append(layers.Conv2D(width, KERNELS[name], padding="same", activation="relu",
                                 name=name))
        if name in POOLED:
            out.append(layers.MaxPooling2D(2, name=f"pool{name[-1]}"))
    return out


def build_ucnn(input_shape, k: int, cfg: UCNNNetConfig | None = None, *, seed: int) -> UCNNNet:
    """conv1..conv5 -> conv6, conv7 (3x3, ReLU) -> conv8 (3x3, k maps) -> global max pooling
    -> fc9 (ReLU) -> softmax (k). Weights initialised from ``seed`` (Keras' defaults: Glorot
    uniform kernels, zero biases). Returns ``UCNNNet(model, features)``."""
    import keras
    from keras import layers

    cfg = cfg or UCNNNetConfig()
    shape = _check_input_shape(input_shape)
    if cfg.trunk == "vgg16-imagenet" and (min(shape[:2]) < 16 or shape[2] not in (1, 3)):
        raise ValueError(f"the VGG16 trunk needs images of at least 16 x 16 with 1 or 3 channels "
                         f"(four 2x2 poolings), got {shape}")
    if int(k) != k or k < 2:
        raise ValueError(f"k (the number of clusters) must be an integer >= 2, got {k!r}")
    k = int(k)
    keras.utils.set_random_seed(seed)
    chain = _trunk_layers(cfg) + [
        layers.Conv2D(cfg.adaptation_widths[0], 3, padding="same", activation="relu",
                      name="conv6"),
        layers.Conv2D(cfg.adaptation_widths[1], 3, padding="same", activation="relu",
                      name="conv7"),
        layers.Conv2D(k, 3, padding="same", name="conv8"),
        layers.GlobalMaxPooling2D(name="gmp"),
        layers.Dense(cfg.fc9_width, activation="relu", name="fc9"),
        layers.Dense(k, activation="softmax", name="softmax"),
    ]
    inputs = keras.Input(shape=shape, name="images")
    h, fc9 = inputs, None
    for layer in chain:
        h = layer(h)
        if layer.name == "fc9":
            fc9 = h
    model = keras.Model(inputs, h, name="ucnn")
    if cfg.trunk == "vgg16-imagenet":
        for name, weights in zip(trunk_layer_names(cfg), vgg16_imagenet_weights()):
            model.get_layer(name).set_weights(weights)
    return UCNNNet(model, keras.Model(inputs, fc9, name="ucnn_fc9"))


def chain_layers(model) -> list:
    """The layers of a chain model in order, without the input layer."""
    import keras

    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def chain_model(model, start: str | None = None, stop: str = "softmax", *, flatten: bool = False):
    """A sub-model of the chain ``model`` from layer ``start`` (its input; None: the images) to
    the output of layer ``stop``, sharing the weights (the layers are re-applied to a new
    input). ``flatten`` flattens the output to (n, d)."""
    import keras

    chain = chain_layers(model)
    names = [layer.name for layer in chain]
    for name in (start, stop):
        if name is not None and name not in names:
            raise ValueError(f"no layer {name!r} in the model; layers: {names}")
    first = 0 if start is None else names.index(start)
    last = names.index(stop)
    if last < first:
        raise ValueError(f"layer {stop!r} comes before {start!r}")
    in_shape = (tuple(model.input_shape[1:]) if start is None
                else layer_input_shape(model, start))
    inputs = keras.Input(shape=in_shape, name=f"from_{start or 'images'}")
    h = inputs
    for layer in chain[first:last + 1]:
        h = layer(h)
    if flatten:
        h = keras.layers.Flatten(name=f"{stop}_flat")(h)
    return keras.Model(inputs, h, name=f"{start or 'images'}_to_{stop}")


def layer_input_shape(model, name: str) -> tuple:
    """(without batch) shape of the input of layer ``name`` of the chain ``model``."""
    chain = chain_layers(model)
    shape = tuple(model.input_shape[1:])
    for layer in chain:
        if layer.name == name:
            return shape
        shape = tuple(layer.compute_output_shape((None, *shape)))[1:]
    raise ValueError(f"no layer {name!r} in the model")


# "trunk" returns the trunk's convolutions, "adaptation" also conv6-conv8 and fc9
PRETRAIN_SCOPES = ("trunk", "adaptation")


def pretrain_supervised(x: np.ndarray, y: np.ndarray, net_cfg: UCNNNetConfig | None = None,
                        cfg: PretrainConfig | None = None, *, seed: int, scope: str = "trunk",
                        k: int | None = None, verbose: int = 0) -> PretrainedTrunk:
    """Train the UCNN's lower layers supervised on labelled images ``x`` (n, h, w, c) with
    labels ``y`` in [0, C), C >= 2, and return their weights (:func:`load_trunk` puts them into
    a UCNN). The stand-in for the paper's ImageNet-pretrained AlexNet (the stage: MNIST-train
    digits 0-4).

    ``scope="trunk"`` (default): conv1-conv5 + a temporary classifier (flatten, dropout, dense
    softmax over the C classes); returns conv1-conv5. ``scope="adaptation"``: the whole UCNN
    up to FC9 (conv8 with ``k`` maps, needed then) + a temporary classifier on FC9 (dropout,
    dense softmax over C) in place of the k-way softmax; returns conv1-conv8 and fc9 (the
    UCNN stage's choice, see the module docstring).

    With the VGG16 trunk (``net_cfg.trunk``) the trunk already holds its ImageNet weights and
    stays frozen: "trunk" returns them untrained, "adaptation" trains conv6-FC9 on top."""
    import keras
    from keras import layers

    from repro.methods.pretrain import make_optimizer

    net_cfg = net_cfg or UCNNNetConfig()
    cfg = cfg or PretrainConfig()
    if scope not in PRETRAIN_SCOPES:
        raise ValueError(f"pretrain: scope must be one of {PRETRAIN_SCOPES}, got {scope!r}")
    if scope == "adaptation" and k is None:
        raise ValueError("pretrain: scope='adaptation' needs k (conv8's number of maps)")
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"pretrain: images must be (n, height, width, channels), got {x.shape}")
    shape = _check_input_shape(x.shape[1:])
    y = np.asarray(y)
    if y.shape != (len(x),) or (y.size and not np.issubdtype(y.dtype, np.integer)):
        raise ValueError(f"pretrain: labels must be ({len(x)},) integers, got {y.shape} {y.dtype}")
    if y.min(initial=0) < 0:
        raise ValueError("pretrain: labels must be >= 0")
    n_classes = int(y.max(initial=0)) + 1
    if n_classes < 2:
        raise ValueError("pretrain: needs at least two label classes")
    vgg = net_cfg.trunk == "vgg16-imagenet"
    if vgg and scope == "trunk":   # nothing to train: ImageNet's weights are the pretraining
        return PretrainedTrunk({name: [np.array(w) for w in weights] for name, weights
                                in zip(trunk_layer_names(net_cfg), vgg16_imagenet_weights())}, {})
    if scope == "trunk":
        keras.utils.set_random_seed(seed)
        inputs = keras.Input(shape=shape, name="images")
        h = inputs
        for layer in _trunk_layers(net_cfg):
            h = layer(h)
        h = layers.Flatten(name="pretrain_flatten")(h)
    else:
        net = build_ucnn(shape, k, net_cfg, seed=seed)
        inputs, h = net.features.input, net.features.output
        if vgg:
            for name in trunk_layer_names(net_cfg):
                net.model.get_layer(name).trainable = False
    if cfg.dropout > 0:
        h = layers.Dropout(cfg.dropout, name="pretrain_dropout")(h)
    out = layers.Dense(n_classes, activation="softmax", name="pretrain_classifier")(h)
    model = keras.Model(inputs, out, name=f"ucnn_{scope}_pretrain")
    optimizer = make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.momentum,
                               weight_decay=cfg.weight_decay or None)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    fitted = model.fit(x.astype(np.float32, copy=False), y.astype(np.int64),
                       batch_size=cfg.batch_size, epochs=cfg.epochs, shuffle=True,
                       verbose=verbose)
    weights = {name: [np.array(w) for w in model.get_layer(name).get_weights()]
               for name in trunk_layer_names(net_cfg)
               + (ADAPTATION_LAYERS if scope == "adaptation" else ())}
    return PretrainedTrunk(weights, {key: [float(v) for v in values]
                                     for key, values in fitted.history.items()})


def load_trunk(model, pretrained) -> None:
    """Set the pretrained layers (the trunk's convolutions at least; conv6-conv8, fc9 if
    present) of a UCNN ``model`` from ``pretrained`` (a :class:`PretrainedTrunk` or its
    ``{name: [kernel, bias]}`` dict); ValueError on a missing or unknown layer or a shape
    mismatch."""
    weights = pretrained.weights if isinstance(pretrained, PretrainedTrunk) else pretrained
    if not isinstance(weights, dict):
        raise ValueError("pretrained weights must be a PretrainedTrunk or a {layer: weights} dict")
    names = [layer.name for layer in chain_layers(model)]
    trunk = [name for name in names[:names.index("conv6")] if name.startswith("conv")]
    missing = [name for name in trunk if name not in weights]
    unknown = [name for name in weights if name not in trunk + list(ADAPTATION_LAYERS)]
    if missing or unknown:
        raise ValueError(f"pretrained weights: missing layers {missing}, unknown layers {unknown}")
    for name, values in weights.items():
        layer = model.get_layer(name)
        current = layer.get_weights()
        given = [np.asarray(w, np.float32) for w in values]
        shapes = [w.shape for w in given]
        if shapes != [w.shape for w in current]:
            raise ValueError(f"pretrained {name} has shapes {shapes}, the UCNN's "
                             f"{[w.shape for w in current]} (same widths, channels and k?)")
        layer.set_weights(given)
