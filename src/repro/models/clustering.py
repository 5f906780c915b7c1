"""DEC's clustering layer, target distribution and clustering loss (Xie et al., ICML 2016).

* :class:`ClusteringLayer` -- Eq. 1 of DEC: Student's t soft assignment of embedded points
  ``z_i`` to cluster centres ``mu_j``::

      q_ij = (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha + 1) / 2)  /  sum_j' (same for j')

* :func:`target_distribution` -- Eq. 3 of DEC: ``p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j')``
  with soft cluster frequencies ``f_j = sum_i q_ij``.
* :func:`kl_clustering_loss` -- Eq. 2 of DEC: ``L_c = KL(P || Q) = sum_i sum_j p_ij log(p_ij / q_ij)``,
  averaged over the samples of a batch (as Keras's ``"kld"`` loss used by the reference code).

The same three pieces are the clustering half of IDEC, DCEC and GAPDCEC (Eq. 4 of GAPDCEC).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

_EPS = 1e-7  # Keras's backend epsilon, used like keras.losses.kl_divergence does


class ClusteringLayer(keras.layers.Layer):
    """Soft assignment of embeddings to ``n_clusters`` learnable centres (DEC Eq. 1).

    Input (batch, d) embeddings; output (batch, n_clusters) probabilities, rows summing to 1.
    The centres are the layer's only weight, shape (n_clusters, d); they are meant to be set
    from k-means on the embedded data (:meth:`set_centres`) before training.

    Args:
        n_clusters: K.
        alpha: degrees of freedom of the Student's t kernel (1.0 in DEC, IDEC, DCEC).
    """

    def __init__(self, n_clusters: int, alpha: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if int(n_clusters) != n_clusters or n_clusters < 1:
            raise ValueError(f"n_clusters must be a positive integer, got {n_clusters!r}")
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0, got {alpha!r}")
        self.n_clusters = int(n_clusters)
        self.alpha = float(alpha)

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"ClusteringLayer expects (batch, d) embeddings, got shape {input_shape}")
        self.clusters = self.add_weight(
            shape=(self.n_clusters, int(input_shape[-1])),
            initializer="glorot_uniform",
            name="clusters",
        )

    def call(self, z):
        diff = ops.expand_dims(z, axis=1) - ops.expand_dims(self.clusters, axis=0)  # (b, K, d)
        squared_distance = ops.sum(ops.square(diff), axis=2)  # (b, K)
        kernel = ops.power(1.0 + squared_distance / self.alpha, -(self.alpha + 1.0) / 2.0)
        return kernel / ops.sum(kernel, axis=1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_clusters)

    def set_centres(self, centres: np.ndarray) -> None:
        """Overwrite the centres with a (n_clusters, d) array (e.g. k-means centres)."""
        centres = np.asarray(centres, dtype="float32")
        expected = tuple(self.clusters.shape)
        if centres.shape != expected:
            raise ValueError(f"centres must have shape {expected}, got {centres.shape}")
        self.clusters.assign(centres)

    def get_config(self):
        return {**super().get_config(), "n_clusters": self.n_clusters, "alpha": self.alpha}


def soft_assignment(z: np.ndarray, centres: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """NumPy reference of DEC Eq. 1: z (n, d), centres (K, d) -> q (n, K)."""
    z = np.asarray(z, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    squared_distance = ((z[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    kernel = (1.0 + squared_distance / alpha) ** (-(alpha + 1.0) / 2.0)
    return kernel / kernel.sum(axis=1, keepdims=True)


def target_distribution(q: np.ndarray) -> np.ndarray:
    """DEC Eq. 3: auxiliary target ``p_ij = (q_ij^2 / f_j) / sum_j' q_ij'^2 / f_j'``.

    Args:
        q: (n, K) soft assignments of the whole data set (rows summing to 1).

    Returns:
        (n, K) float32 target distribution, rows summing to 1; sharper than q.
    """
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 2:
        raise ValueError(f"q must be a (n, K) matrix of soft assignments, got shape {q.shape}")
    if np.any(q < 0):
        raise ValueError("q must be non-negative (soft assignment probabilities)")
    frequency = q.sum(axis=0)  # f_j, (K,)
    weight = q**2 / np.maximum(frequency, np.finfo(np.float64).tiny)
    return (weight / weight.sum(axis=1, keepdims=True)).astype(np.float32)


def kl_clustering_loss(p, q):
    """DEC Eq. 2 per batch: mean over samples of ``sum_j p_ij log(p_ij / q_ij)``.

    p, q: (batch, K) tensors (targets, soft assignments); returns a scalar tensor. Both are
    clipped to [1e-7, 1] before the log, exactly as ``keras.losses.kl_divergence``.
    """
    p = ops.clip(p, _EPS, 1.0)
    q = ops.clip(q, _EPS, 1.0)
    return ops.mean(ops.sum(p * ops.log(p / q), axis=-1))
