"""Quantization layers of PQDEC and BQDEC, and the Keras model that trains an autoencoder with one.

* :class:`ProductQuantization` -- the product-quantized embedding of PQDEC (Kolla and Venugopal,
  Sec. III-B): the embedding z (batch, D) is cut into M sub-vectors, each replaced by the nearest
  of L trainable codewords (codes h_i, Eq. 1 and 3), and the layer adds the quantization loss
  ``L_q = mean_i ||z_i - C h_i||^2`` (Eq. 4; the paper sums over the data set, we average over
  the batch so that the weight gamma does not depend on the batch size).
* :class:`BinaryQuantization` -- the binary embedding of BQDEC (ref. [28] of the PQDEC paper):
  bits ``[z_i > 0]``, quantized embedding ``b_i = a * sign(z_i)`` (a per-unit scale, 1 or the
  mean |z|) and ``L_q = mean_i ||z_i - b_i||^2 / B`` (the quantization loss of deep hashing; b
  is a constant for the gradient). Divided by the B = 256 bits by default
  (``reduction="mean"``), see :mod:`repro.methods.bqdec` for why.
* :class:`QuantizedAutoencoder` -- owns the objective ``L = L_r + gamma * L_q`` (Eq. 4-5) for
  either layer: ``L_r`` is the mean squared reconstruction error of the decoder, ``L_q`` the
  layer's added loss. The decoder reads the continuous z (``decode="continuous"``, PQDEC: the
  decoder is kept "as it is, like in DEC") or the quantized embedding (``decode="quantized"``,
  BQDEC: Eq. 2, "Decoder g_u maps binary codes back to real data points", with a
  straight-through gradient, see :class:`BinaryQuantization`).

Padding (PQDEC): D = 10 is not divisible by M = 4. :func:`subspace_padding_matrix` splits the D
dimensions as evenly as possible (``np.array_split``: 3, 3, 2, 2) and zero-pads every sub-vector
to ``ceil(D / M)`` = 3 dimensions, a 12-d vector whose equal-sized sub-vectors a
:class:`~repro.quantization.ProductQuantizer` handles. The padded coordinates are zero in the
data and masked to zero in the codebooks, so they add nothing to any distance.
"""
from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops


def subspace_padding_matrix(dim: int, n_subspaces: int) -> np.ndarray:
    """Selection matrix P (D, M * ceil(D/M)) float32 such that ``z @ P`` is the padded z.

    Sub-vector m of ``z @ P`` holds the dimensions ``np.array_split(range(D), M)[m]`` of z
    followed by zeros. P has one 1 per row and at most one per column, so ``z @ P`` preserves
    every distance and ``(z @ P) @ P.T == z`` (un-padding).
    """
    if int(n_subspaces) != n_subspaces or n_subspaces < 1:
        raise ValueError(f"n_subspaces must be a positive integer, got {n_subspaces!r}")
    if int(dim) != dim or dim < n_subspaces:
        raise ValueError(f"an embedding of dim={dim} cannot be split into {n_subspaces} non-empty "
                         "sub-vectors (need dim >= n_subspaces)")
    width = math.ceil(dim / n_subspaces)
    matrix = np.zeros((int(dim), int(n_subspaces) * width), dtype=np.float32)
    for m, dims in enumerate(np.array_split(np.arange(int(dim)), int(n_subspaces))):
        matrix[dims, m * width + np.arange(dims.size)] = 1.0
    return matrix


def pad_subvectors(z: np.ndarray, n_subspaces: int) -> np.ndarray:
    """(n, D) embeddings -> (n, M * ceil(D/M)) float32 padded vectors (see the module docstring)."""
    z = np.asarray(z, dtype=np.float32)
    if z.ndim != 2:
        raise ValueError(f"z must be an (n, D) array of embeddings, got shape {z.shape}")
    return z @ subspace_padding_matrix(z.shape[1], n_subspaces)


class ProductQuantization(keras.layers.Layer):
    """Product quantization of embeddings with trainable codebooks (PQDEC Eq. 1, 3, 4).

    Input z (batch, D). Outputs ``(z_quantized, codes)``: the quantized embedding ``C h``
    un-padded to (batch, D) float, and the codes h (batch, M) int32 (nearest codeword of each
    sub-vector, a hard assignment). Adds ``L_q = mean_i ||z_i - C h_i||^2`` with ``add_loss``;
    its gradient reaches the codebooks (the codewords used by a batch move towards the mean of
    their sub-vectors) and z (the encoder).

    Weight ``codebooks`` (M, L, ceil(D/M)); its padded coordinates are masked to zero.

    Args:
        n_subspaces: M (4 in PQDEC).  n_codewords: L (256 in PQDEC: 8 bits per sub-vector).
    """

    def __init__(self, n_subspaces: int = 4, n_codewords: int = 256, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("n_subspaces", n_subspaces), ("n_codewords", n_codewords)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.n_subspaces, self.n_codewords = int(n_subspaces), int(n_codewords)

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"ProductQuantization expects (batch, D) embeddings, got shape {input_shape}")
        padding = subspace_padding_matrix(int(input_shape[-1]), self.n_subspaces)
        self.dim, self.sub_dim = padding.shape[0], padding.shape[1] // self.n_subspaces
        mask = padding.sum(axis=0).reshape(self.n_subspaces, 1, self.sub_dim)
        self._padding, self._mask = ops.convert_to_tensor(padding), ops.convert_to_tensor(mask)
        self.codebooks = self.add_weight(shape=(self.n_subspaces, self.n_codewords, self.sub_dim),
                                         initializer="random_normal", name="codebooks")

    def masked_codebooks(self):
        """The codebooks (M, L, d_sub) with padded coordinates zeroed (what ``call`` uses)."""
        return self.codebooks * self._mask

    def call(self, z):
        sub = ops.reshape(ops.matmul(z, self._padding), (-1, self.n_subspaces, self.sub_dim))
        books = self.masked_codebooks()
        distances = (ops.sum(ops.square(sub), axis=-1, keepdims=True)
                     - 2.0 * ops.einsum("bmd,mld->bml", sub, books)
                     + ops.expand_dims(ops.sum(ops.square(books), axis=-1), 0))  # (b, M, L)
        codes = ops.cast(ops.argmin(distances, axis=-1), "int32")  # (b, M)
        one_hot = ops.one_hot(codes, self.n_codewords, dtype=books.dtype)
        quantized = ops.einsum("bml,mld->bmd", one_hot, books)  # C h, (b, M, d_sub)
        self.add_loss(ops.mean(ops.sum(ops.square(sub - quantized), axis=(1, 2))))
        flat = ops.reshape(quantized, (-1, self.n_subspaces * self.sub_dim))
        return ops.matmul(flat, ops.transpose(self._padding)), codes

    def compute_output_spec(self, z):
        batch = z.shape[0]
        return (keras.KerasTensor((batch, z.shape[1]), dtype=self.compute_dtype),
                keras.KerasTensor((batch, self.n_subspaces), dtype="int32"))

    def set_codebooks(self, codebooks: np.ndarray) -> None:
        """Overwrite the codebooks with an (M, L, ceil(D/M)) array, e.g. ``ProductQuantizer.codebooks``."""
        codebooks = np.asarray(codebooks, dtype="float32")
        expected = tuple(self.codebooks.shape)
        if codebooks.shape != expected:
            raise ValueError(f"codebooks must have shape {expected} (M, L, ceil(D/M)), got {codebooks.shape}")
        self.codebooks.assign(codebooks)

    def get_codebooks(self) -> np.ndarray:
        """Current masked codebooks (M, L, d_sub) float32, for a ``ProductQuantizer.from_codebooks``."""
        return np.asarray(ops.convert_to_numpy(self.masked_codebooks()), dtype=np.float32)

    def get_config(self):
        return {**super().get_config(), "n_subspaces": self.n_subspaces, "n_codewords": self.n_codewords}


class BinaryQuantization(keras.layers.Layer):
    """Binary quantization of embeddings (BQDEC): z (batch, B) -> ``(a * sign(z), bits)``.

    ``bits = [z > 0]`` (batch, B) int32, ``sign(z) = 2 * bits - 1`` in {-1, +1}, and the
    quantized embedding ``b = a * sign(z)`` with a per-unit scale a (1, B):

    * ``scale="unit"``: a = 1, the usual deep-hashing target;
    * ``scale="mean_abs"`` (default): a_j = mean over the batch of |z_j|, the scaled binary
      quantizer (a * sign, as XNOR-Net's binary weights). The codes are the same bits; only the
      value the embedding is pulled towards changes. With a = 1 and an embedding of small
      magnitude, L_q is smallest when whole units turn constant and the clustering collapses
      (see :mod:`repro.methods.bqdec`).

    Adds ``L_q = mean_i ||z_i - b_i||^2``, divided by B when ``reduction="mean"`` (the default:
    a mean over batch and bits) with ``add_loss``; b is a constant (stop-gradient) in L_q, so
    its gradient, ``2 (z - b)`` (/ B), reaches the encoder only.

    The first output has the value b and the straight-through gradient of the identity
    (``z + stop_gradient(b - z)``; Bengio et al. 2013): a decoder fed with it trains the
    encoder through the step function, whose own derivative is zero almost everywhere.
    """

    REDUCTIONS = ("mean", "sum")
    SCALES = ("mean_abs", "unit")

    def __init__(self, reduction: str = "mean", scale: str = "mean_abs", **kwargs):
        super().__init__(**kwargs)
        if reduction not in self.REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; expected one of {self.REDUCTIONS}")
        if scale not in self.SCALES:
            raise ValueError(f"unknown scale {scale!r}; expected one of {self.SCALES}")
        self.reduction, self.scale = reduction, scale

    def call(self, z):
        bits = ops.cast(ops.greater(z, 0.0), "int32")
        target = 2.0 * ops.cast(bits, z.dtype) - 1.0
        if self.scale == "mean_abs":
            target = target * ops.mean(ops.abs(z), axis=0, keepdims=True)
        target = ops.stop_gradient(target)
        reduce = ops.mean if self.reduction == "mean" else ops.sum
        self.add_loss(ops.mean(reduce(ops.square(z - target), axis=-1)))
        return z + ops.stop_gradient(target - z), bits

    def compute_output_spec(self, z):
        return (keras.KerasTensor(z.shape, dtype=self.compute_dtype),
                keras.KerasTensor(z.shape, dtype="int32"))

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction, "scale": self.scale}


def decoder_chain(autoencoder: keras.Model, encoder: keras.Model) -> list[keras.layers.Layer]:
    """The autoencoder's layers after the embedding layer, in order, checked to form one chain
    (each reads the previous one's output, as first built) ending at the reconstruction."""
    embedding_layer = encoder.layers[-1]
    layers_ = list(autoencoder.layers)
    if embedding_layer not in layers_:
        raise ValueError("the encoder must be part of the autoencoder's graph (build both with "
                         "repro.models.autoencoders, which returns them sharing layers)")
    chain, previous = [], embedding_layer.output
    for layer in layers_[layers_.index(embedding_layer) + 1:]:
        if layer.input is not previous:
            raise ValueError(f"decode='quantized' needs a chain decoder; layer {layer.name!r} of "
                             f"{autoencoder.name!r} does not read the previous layer's output alone")
        chain.append(layer)
        previous = layer.output
    if previous is not autoencoder.outputs[0]:
        raise ValueError(f"the layers of {autoencoder.name!r} after the embedding do not end at "
                         "its reconstruction")
    return chain


class QuantizedAutoencoder(keras.Model):
    """x -> (x_hat, codes), trained on ``L = L_r + gamma * L_q`` (PQDEC Eq. 4-5).

    Args:
        autoencoder: maps x -> x_hat; the encoder must be part of its graph (repro.models builds
            them sharing layers).
        encoder: maps x -> z (batch, D).
        quantizer: a layer z -> (z_quantized, codes) that adds L_q with ``add_loss``
            (:class:`ProductQuantization` or :class:`BinaryQuantization`).
        gamma: weight of L_q (> 0 in the paper; 0 trains the autoencoder alone).
        decode: "continuous" (the decoder sees z) or "quantized" (the decoder sees z_quantized;
            needs a chain autoencoder such as :func:`~repro.models.autoencoders.dense_autoencoder`,
            whose layers after the embedding are applied one after the other).

    ``fit(x)`` needs no targets. Logs ``loss``, ``reconstruction_loss`` (L_r, batch mean of the
    squared error per pixel, Keras ``"mse"``) and ``quantization_loss`` (L_q).
    """

    DECODE = ("continuous", "quantized")

    def __init__(self, autoencoder: keras.Model, encoder: keras.Model, quantizer: keras.layers.Layer,
                 *, gamma: float = 0.1, decode: str = "continuous", **kwargs):
        super().__init__(**kwargs)
        if not gamma >= 0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        if decode not in self.DECODE:
            raise ValueError(f"unknown decode {decode!r}; expected one of {self.DECODE}")
        self.gamma, self.decode = float(gamma), decode
        self.quantizer = quantizer
        quantized, codes = quantizer(encoder.outputs[0])
        self.code_model = keras.Model(encoder.inputs, codes, name="code_model")
        x_hat = autoencoder.outputs[0]
        if decode == "quantized":
            for layer in decoder_chain(autoencoder, encoder):
                quantized = layer(quantized)
            x_hat = quantized
        try:
            self.network = keras.Model(autoencoder.inputs, [x_hat, codes], name="quantized_network")
        except ValueError as exc:
            raise ValueError("the encoder must be part of the autoencoder's graph (build both with "
                             "repro.models.autoencoders, which returns them sharing layers)") from exc
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.quantization_loss_tracker = keras.metrics.Mean(name="quantization_loss")

    def call(self, x, training=None):
        return self.network(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """``L_r + gamma * L_q`` of a batch; L_q is the sum of the losses the layers added."""
        x_hat = y_pred[0]
        reconstruction_loss = ops.mean(ops.square(ops.convert_to_tensor(x) - x_hat))
        losses = self.quantizer.losses
        quantization_loss = ops.sum(ops.stack(losses)) if losses else 0.0
        batch = ops.shape(x_hat)[0]
        self.reconstruction_loss_tracker.update_state(reconstruction_loss, sample_weight=batch)
        self.quantization_loss_tracker.update_state(quantization_loss, sample_weight=batch)
        return reconstruction_loss + self.gamma * quantization_loss

    def predict_codes(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Codes of the whole data x (n, code width) int32: encoder + quantizer, no decoder pass."""
        return np.asarray(self.code_model.predict(x, batch_size=batch_size, verbose=0))
