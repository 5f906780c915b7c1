"""DNNH (Lai, Pan, Liu, Yan, CVPR 2015): simultaneous feature learning and hash coding.

- **Shared sub-network**: here the shared backbone (fc6, fc7) of every method of the table
  (the paper's DNNH uses a Network-in-Network backbone: the slides say so; a stated
  difference, kept so that all methods share one backbone).
- **Divide-and-encode module**: a q-bit code is made of q slices; fc7 is first mapped to
  q x ``slice_width`` units (ReLU; DNNH divides its last feature map into q equal slices --
  fc7's width need not divide by 12, 24, 32 and 48, hence this layer), each slice is then
  fully connected to *one* unit with a sigmoid, so bits do not share weights.
- **Piece-wise threshold** (training): g(s) = 0 for s < 0.5 - eps, 1 for s > 0.5 + eps, s
  otherwise (eps = ``threshold_margin``), pushing outputs towards binary values.
- **Triplet ranking loss**: for every triplet of one mini-batch (anchor i, a positive j
  sharing a label with i, a negative k sharing none), max(0, 1 - (||h_i - h_k||^2 -
  ||h_i - h_j||^2)), averaged over the batch's valid triplets (all of them, vectorised --
  DNNH samples triplets from the labels; every in-batch triplet is that sample).
- **Codes**: bit = 1 where the sigmoid output exceeds 0.5 (as {-1, +1}), Hamming ranking.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from repro.methods.hash_heads import DeepHead, HashIndex, check_training_data


@dataclass
class DNNHConfig:
    slice_width: int = 8
    threshold_margin: float = 0.1
    margin: float = 1.0

    def __post_init__(self):
        if self.slice_width < 1 or not 0 <= self.threshold_margin < 0.5:
            raise ValueError(f"dnnh: slice_width >= 1 and 0 <= threshold_margin < 0.5 needed, "
                             f"got {self.slice_width}, {self.threshold_margin}")


def divide_and_encode(h, bits: int, cfg: DNNHConfig, *, training_threshold: bool = True):
    """fc7 keras tensor -> (batch, bits) in [0, 1]: q slices, one sigmoid unit each."""
    sliced = layers.Dense(bits * cfg.slice_width, activation="relu", name="divide")(h)
    sliced = layers.Reshape((bits, cfg.slice_width), name="slices")(sliced)
    out = SliceEncode(name="encode")(sliced)
    if training_threshold:
        out = PiecewiseThreshold(cfg.threshold_margin, name="piecewise_threshold")(out)
    return out


class SliceEncode(keras.layers.Layer):
    """(batch, q, w) -> (batch, q): slice j -> sigmoid(w_j . x_j + b_j), no sharing."""

    def build(self, input_shape):
        q, w = input_shape[1], input_shape[2]
        self.kernel = self.add_weight(shape=(q, w), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(q,), initializer="zeros", name="bias")

    def call(self, x):
        return ops.sigmoid(ops.sum(x * self.kernel, axis=2) + self.bias)


class PiecewiseThreshold(keras.layers.Layer):
    """g(s): 0 below 0.5 - eps, 1 above 0.5 + eps, s between (training only)."""

    def __init__(self, eps: float, **kwargs):
        super().__init__(**kwargs)
        self.eps = float(eps)

    def call(self, s, training=None):
        if not training:
            return s
        low = ops.cast(s < 0.5 - self.eps, s.dtype)
        high = ops.cast(s > 0.5 + self.eps, s.dtype)
        return high + (1.0 - low - high) * s

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


def triplet_loss(labels, h, margin: float = 1.0):
    """Mean over the batch's valid triplets (i, j+, k-) of max(0, margin - (d_ik - d_ij))."""
    sq = ops.sum(h * h, axis=1)
    dist = ops.maximum(sq[:, None] + sq[None, :] - 2.0 * ops.matmul(h, ops.transpose(h)), 0.0)
    shared = ops.matmul(labels, ops.transpose(labels)) > 0
    n = ops.shape(h)[0]
    not_self = 1.0 - ops.eye(n, dtype=h.dtype)
    positive = ops.cast(shared, h.dtype) * not_self          # (i, j)
    negative = 1.0 - ops.cast(shared, h.dtype)               # (i, k)
    valid = positive[:, :, None] * negative[:, None, :]      # (i, j, k)
    hinge = ops.relu(margin - (dist[:, None, :] - dist[:, :, None]))
    return ops.sum(hinge * valid) / ops.maximum(ops.sum(valid), 1.0)


class DNNH(DeepHead):
    """DNNH at ``bits`` bits (a :class:`~repro.methods.base.Retriever`, module docstring); its
    index (:class:`~repro.methods.hash_heads.HashIndex`) reads the sigmoid outputs (no
    threshold layer at inference) and codes +1 above 0.5."""

    name = "dnnh"

    def fit(self, x: np.ndarray, y: np.ndarray, *, seed: int) -> HashIndex:
        x, labels = check_training_data(x, y)
        network = self._model(x, lambda h: divide_and_encode(h, self.bits, self.cfg), seed)

        def loss(target, out):
            return triplet_loss(target, out, self.cfg.margin)

        return HashIndex(network, self._train(network, x, labels, loss, seed), threshold=0.5)
