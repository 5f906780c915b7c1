"""The Keras model of the DEC family's clustering phase (DEC, IDEC, DCEC, GAPDCEC).

:class:`DeepClusteringModel` wraps a pretrained encoder (and, for IDEC/DCEC/GAPDCEC, the whole
autoencoder) with a :class:`~repro.models.clustering.ClusteringLayer` and owns the loss:

* DEC (Xie et al. 2016, Eq. 2):                 ``L = L_c = KL(P || Q)``
* IDEC (Guo et al. 2017, Eq. 7), DCEC (Eq. 5), GAPDCEC (Eq. 6):  ``L = L_r + gamma * L_c``

with ``L_r`` the mean squared reconstruction error of the batch (Keras ``"mse"``, as in the
IDEC/DCEC reference code; the papers write it as a sum of squared norms, which differs from the
mean by the constant factor d, absorbed in gamma by the authors' code) and ``L_c`` the batch
mean of ``sum_j p_ij log(p_ij / q_ij)``.

The target distribution P of the whole data set lives in the model as a non-trainable variable
``targets`` (n_samples, K). ``fit`` is fed ``(x_batch, sample_index_batch)``: the "y" of a batch
is the index of its samples, and :meth:`compute_loss` looks the targets up at step time. So a
callback that replaces P (every T steps, DEC Sec. 3.1.3) takes effect on the very next step,
however far the input pipeline has prefetched. Only ``keras.ops`` is used: the model trains on
the tensorflow, jax and torch backends through Keras's own train step.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .clustering import ClusteringLayer, kl_clustering_loss


class DeepClusteringModel(keras.Model):
    """x -> Q (DEC) or x -> (Q, x_hat) (IDEC / DCEC / GAPDCEC), trained on ``L = L_r + gamma L_c``.

    Args:
        encoder: maps x (batch, ...) -> z (batch, d). Its layers are trained (shared, not copied).
        n_clusters: K.
        n_samples: n, the size of the data set whose target distribution is stored.
        autoencoder: if given, its output is the reconstruction and L_r is added; it must be
            the autoencoder the encoder was cut from (same input, encoder output inside its graph).
        gamma: weight of the clustering loss when a reconstruction term is present (0.1 in
            IDEC, DCEC and GAPDCEC); ignored without an autoencoder (DEC: L = L_c).
        alpha: Student's t degrees of freedom of the clustering layer.
    """

    def __init__(self, encoder: keras.Model, n_clusters: int, n_samples: int, *,
                 autoencoder: keras.Model | None = None, gamma: float = 0.1,
                 alpha: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if int(n_samples) != n_samples or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        self.encoder = encoder
        self.clustering = ClusteringLayer(n_clusters, alpha=alpha, name="clustering")
        q = self.clustering(encoder.outputs[0])
        self.soft_assigner = keras.Model(encoder.inputs, q, name="soft_assigner")
        self.reconstructs = autoencoder is not None
        self.network = self.soft_assigner if autoencoder is None else _joint_network(autoencoder, q)
        self.gamma = float(gamma)
        self.n_clusters = int(n_clusters)
        self.n_samples = int(n_samples)
        self.targets = self.add_weight(
            shape=(self.n_samples, self.n_clusters), name="targets", trainable=False,
            initializer=keras.initializers.Constant(1.0 / self.n_clusters))
        # Trackers assigned as attributes are picked up by Model.metrics (reset every epoch).
        self.clustering_loss_tracker = keras.metrics.Mean(name="clustering_loss")
        if self.reconstructs:
            self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")

    def call(self, x, training=None):
        return self.network(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """``L_r + gamma * L_c`` (or ``L_c`` for DEC) of a batch; ``y`` holds the sample indices."""
        if y is None:
            raise ValueError("DeepClusteringModel.fit needs y = the index of each sample in the "
                             "data set (its row of the target distribution)")
        index = ops.cast(ops.reshape(y, (-1,)), "int32")
        p = ops.take(self.targets, index, axis=0)
        q, x_hat = (y_pred if self.reconstructs else (y_pred, None))
        clustering_loss = kl_clustering_loss(p, q)
        batch = ops.shape(index)[0]
        self.clustering_loss_tracker.update_state(clustering_loss, sample_weight=batch)
        if not self.reconstructs:
            return clustering_loss
        reconstruction_loss = ops.mean(ops.square(ops.convert_to_tensor(x) - x_hat))
        self.reconstruction_loss_tracker.update_state(reconstruction_loss, sample_weight=batch)
        return reconstruction_loss + self.gamma * clustering_loss

    def set_centres(self, centres: np.ndarray) -> None:
        """Cluster centres mu (K, d), e.g. from k-means on the embedded data (DEC Sec. 3.2)."""
        self.clustering.set_centres(centres)

    def set_targets(self, p: np.ndarray) -> None:
        """Replace the stored target distribution P (n_samples, K) (DEC Eq. 3)."""
        p = np.asarray(p, dtype="float32")
        if p.shape != (self.n_samples, self.n_clusters):
            raise ValueError(f"targets must have shape {(self.n_samples, self.n_clusters)}, got {p.shape}")
        self.targets.assign(p)

    def predict_soft_assignments(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Q (n, K) for the whole data x, encoder + clustering layer only (no decoder pass)."""
        return np.asarray(self.soft_assigner.predict(x, batch_size=batch_size, verbose=0))


def _joint_network(autoencoder: keras.Model, q) -> keras.Model:
    """x -> (q, x_hat) sharing one encoder pass between the two outputs."""
    try:
        return keras.Model(autoencoder.inputs, [q, autoencoder.outputs[0]], name="joint_network")
    except ValueError as exc:
        raise ValueError("the encoder must be part of the autoencoder's graph (build both with "
                         "repro.models.autoencoders, which returns them sharing layers)") from exc
