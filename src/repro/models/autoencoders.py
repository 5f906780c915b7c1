"""Autoencoders of the DEC line of work (Keras 3, backend-agnostic).

* :func:`dense_autoencoder` -- the fully connected autoencoder of DEC (Xie et al., ICML 2016,
  Sec. 4.3) reused by IDEC and DCN: encoder d-500-500-2000-10, decoder 10-2000-500-500-d,
  ReLU inside, linear embedding and linear reconstruction.
* :func:`conv_autoencoder` -- the convolutional autoencoder (CAE) of DCEC (Guo et al., ICONIP
  2017, Fig. 1): conv 32@5x5/2, 64@5x5/2, 128@3x3/2, flatten, dense embedding (linear);
  decoder dense -> reshape -> transposed convolutions mirroring the encoder. With
  ``pooling="gap"`` the flatten is replaced by global average pooling of the conv3 feature
  maps (GAPDCEC, Kolla and Venugopal 2018, Fig. 1 and Eq. 2-3); the decoder is unchanged.

Both return ``(autoencoder, encoder)``; the encoder shares its layers with the autoencoder,
so training one trains the other.
"""
from __future__ import annotations

import keras
from keras import layers

POOLINGS = ("flatten", "gap")
# Kernel initialisers of the dense autoencoder, as DEC-keras chooses them per dataset
# (XifengGuo/DEC-keras run_exp.py): Keras's default Glorot uniform (USPS, STL) and
# VarianceScaling(scale=1/3, mode="fan_in", distribution="uniform"), i.e. U(-limit, limit) with
# limit = sqrt(1 / fan_in) (MNIST, Fashion-MNIST, Reuters).
DENSE_INITS = ("glorot_uniform", "fan_in_uniform")


def _dense_init(seed: int | None, index: int, init: str = "glorot_uniform") -> keras.initializers.Initializer:
    """The kernel initialiser ``init`` (one of :data:`DENSE_INITS`), seeded per layer."""
    layer_seed = None if seed is None else seed + index
    if init == "glorot_uniform":
        return keras.initializers.GlorotUniform(seed=layer_seed)
    if init == "fan_in_uniform":
        return keras.initializers.VarianceScaling(scale=1.0 / 3.0, mode="fan_in",
                                                  distribution="uniform", seed=layer_seed)
    raise ValueError(f"unknown dense initialiser {init!r}; expected one of {DENSE_INITS}")


def dense_autoencoder(
    input_dim: int,
    dims=(500, 500, 2000, 10),
    *,
    dropout: float = 0.0,
    seed: int | None = None,
    init: str = "glorot_uniform",
) -> tuple[keras.Model, keras.Model]:
    """Fully connected autoencoder of DEC.

    Encoder ``input_dim-dims[0]-...-dims[-1]`` and mirrored decoder ``dims[-1]-...-dims[0]-input_dim``;
    ReLU on hidden layers, linear embedding and linear output (DEC, Xie et al. 2016).

    Args:
        input_dim: d, the length of a flat input vector.
        dims: hidden widths of the encoder, the last one being the embedding dimension.
        dropout: if > 0, a Dropout layer (active only in training) on the input of every dense
            layer -- a stand-in for the input corruption of DEC's denoising pretraining.
        seed: seeds the weight initialisers (None: Keras's global seed).
        init: kernel initialiser, one of :data:`DENSE_INITS` (biases start at zero).

    Returns:
        (autoencoder, encoder): autoencoder maps (n, d) -> (n, d); encoder maps (n, d) -> (n, dims[-1]).
    """
    input_dim, dims = _check_dense_args(input_dim, dims, dropout)
    inputs = keras.Input(shape=(input_dim,), name="input")
    h = inputs
    n_layers = len(dims)
    for i, width in enumerate(dims):
        is_embedding = i == n_layers - 1
        h = _maybe_dropout(h, dropout, f"encoder_dropout_{i}")
        h = layers.Dense(width, activation=None if is_embedding else "relu",
                         kernel_initializer=_dense_init(seed, i, init),
                         name="embedding" if is_embedding else f"encoder_{i}")(h)
    embedding = h
    for i, width in enumerate(list(dims[:-1])[::-1] + [input_dim]):
        is_output = i == n_layers - 1
        h = _maybe_dropout(h, dropout, f"decoder_dropout_{i}")
        h = layers.Dense(width, activation=None if is_output else "relu",
                         kernel_initializer=_dense_init(seed, n_layers + i, init),
                         name="reconstruction" if is_output else f"decoder_{n_layers - 1 - i}")(h)
    autoencoder = keras.Model(inputs, h, name="dense_autoencoder")
    encoder = keras.Model(inputs, embedding, name="dense_encoder")
    return autoencoder, encoder


def _check_dense_args(input_dim, dims, dropout) -> tuple[int, tuple[int, ...]]:
    if int(input_dim) != input_dim or input_dim < 1:
        raise ValueError(f"input_dim must be a positive integer, got {input_dim!r}")
    dims = tuple(int(w) for w in dims)
    if not dims or min(dims) < 1:
        raise ValueError(f"dims must be a non-empty sequence of positive widths, got {dims!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    return int(input_dim), dims


def _maybe_dropout(h, rate: float, name: str):
    return layers.Dropout(rate, name=name)(h) if rate > 0 else h


def conv3_padding(input_shape: tuple[int, int, int]) -> str:
    """Padding of conv3 (and of its mirror deconv3) such that the decoder restores the input size.

    conv1 and conv2 use 'same' padding with stride 2 (h -> ceil(h/2) -> ceil(h/4)). conv3 (3x3,
    stride 2) uses 'same' when h and w are multiples of 8 (16x16 USPS -> 2x2x128) and 'valid'
    otherwise (28x28 MNIST -> 7x7 -> 3x3x128, as in the DCEC and GAPDCEC papers), the rule of
    the DCEC reference code. Raises ValueError if neither choice can be mirrored exactly.
    """
    h, w, _ = input_shape
    if h % 8 == 0 and w % 8 == 0:
        return "same"
    if h % 4 == 0 and w % 4 == 0 and (h // 4) % 2 == 1 and (w // 4) % 2 == 1 and min(h, w) >= 12:
        return "valid"
    raise ValueError(
        f"conv_autoencoder cannot mirror input_shape {input_shape}: height and width must be "
        "multiples of 8, or 4 * an odd number >= 3 (e.g. 16x16 or 28x28)")


def _conv_encoder_features(inputs, filters, padding3: str):
    """conv1 32@5x5/2 'same', conv2 64@5x5/2 'same', conv3 128@3x3/2, all ReLU (DCEC Fig. 1)."""
    h = layers.Conv2D(filters[0], 5, strides=2, padding="same", activation="relu", name="conv1")(inputs)
    h = layers.Conv2D(filters[1], 5, strides=2, padding="same", activation="relu", name="conv2")(h)
    return layers.Conv2D(filters[2], 3, strides=2, padding=padding3, activation="relu", name="conv3")(h)


def _conv_decoder(embedding, feature_shape, filters, channels: int, padding3: str):
    """dense -> reshape to the conv3 feature shape -> deconv3, deconv2, deconv1 (linear output)."""
    fh, fw, fc = feature_shape
    h = layers.Dense(fh * fw * fc, activation="relu", name="decoder_dense")(embedding)
    h = layers.Reshape((fh, fw, fc), name="decoder_reshape")(h)
    h = layers.Conv2DTranspose(filters[1], 3, strides=2, padding=padding3, activation="relu",
                               name="deconv3")(h)
    h = layers.Conv2DTranspose(filters[0], 5, strides=2, padding="same", activation="relu",
                               name="deconv2")(h)
    return layers.Conv2DTranspose(channels, 5, strides=2, padding="same", name="deconv1")(h)


def conv_autoencoder(
    input_shape: tuple[int, int, int],
    filters=(32, 64, 128),
    embedding_dim: int = 10,
    *,
    pooling: str = "flatten",
) -> tuple[keras.Model, keras.Model]:
    """Convolutional autoencoder of DCEC (``pooling="flatten"``) or GAPDCEC (``pooling="gap"``).

    Encoder: conv1 -> conv2 -> conv3 (ReLU) -> flatten | global average pooling -> dense
    ``embedding_dim`` (linear). Decoder (identical for both poolings): dense (ReLU) to the conv3
    feature size -> reshape -> transposed convolutions mirroring conv3, conv2, conv1, linear output.

    Args:
        input_shape: (h, w, c) of one image, e.g. (28, 28, 1) or (16, 16, 1).
        filters: channels of conv1, conv2, conv3.
        embedding_dim: size of the embedding (10 in both papers).
        pooling: "flatten" (DCEC) or "gap" (GAPDCEC, Eq. 2: per-map mean of the conv3 activations).

    Returns:
        (autoencoder, encoder): (n, h, w, c) -> (n, h, w, c) and (n, h, w, c) -> (n, embedding_dim).
    """
    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape}")
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; expected one of {POOLINGS}")
    filters = tuple(int(f) for f in filters)
    if len(filters) != 3:
        raise ValueError(f"filters must name the channels of the 3 conv layers, got {filters}")
    padding3 = conv3_padding(input_shape)
    inputs = keras.Input(shape=input_shape, name="input")
    features = _conv_encoder_features(inputs, filters, padding3)
    if pooling == "gap":
        pooled = layers.GlobalAveragePooling2D(name="global_average_pooling")(features)
    else:
        pooled = layers.Flatten(name="flatten")(features)
    embedding = layers.Dense(embedding_dim, name="embedding")(pooled)
    outputs = _conv_decoder(embedding, tuple(features.shape[1:]), filters, input_shape[2], padding3)
    name = "gap_conv" if pooling == "gap" else "conv"
    autoencoder = keras.Model(inputs, outputs, name=f"{name}_autoencoder")
    encoder = keras.Model(inputs, embedding, name=f"{name}_encoder")
    return autoencoder, encoder
