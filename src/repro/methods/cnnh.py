"""CNNH (Xia, Pan, Lai, Liu, Yan, AAAI 2014): hashing in two stages.

**Stage 1** (approximate codes of the training images): find H in [-1, 1]^{n x q} with
``S ~ (1/q) H H^T`` (S in {-1, +1}: +1 where two images share a label), i.e.
``min ||S - (1/q) H H^T||_F^2``. CNNH solves it by coordinate descent over the entries of H
with Newton steps; here the same objective by *block* coordinate descent over H's columns:
for bit j, with the residual ``R_j = q S - sum_{l != j} h_l h_l^T``, ``h_j`` minimises
``||R_j - h h^T||^2`` over the box [-1, 1]^n -- started at the unconstrained optimum
``sqrt(lambda_1) v_1`` (the top eigenpair of R_j), then projected gradient steps -- for
``sweeps`` sweeps over the bits. The codes are sign(H). (A reading: per-entry Newton loops
over n x q entries are not vectorisable.)

**Stage 2**: the shared backbone (fc6, fc7) with a q-unit tanh output trained to regress the
stage-1 codes (squared error); database and query codes are the signs of its outputs,
ranked by Hamming distance. (CNNH+, which adds a class-label head, is not the slides' CNNH.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from keras import layers, ops
from scipy.sparse.linalg import LinearOperator, eigsh

from repro.methods.hash_heads import DeepHead, HashIndex, check_training_data, label_matrix


@dataclass
class CNNHConfig:
    sweeps: int = 3               # stage 1: passes over the q bits
    gradient_steps: int = 20      # stage 1: projected gradient steps per bit and sweep

    def __post_init__(self):
        if self.sweeps < 1 or self.gradient_steps < 0:
            raise ValueError(f"cnnh: sweeps >= 1 and gradient_steps >= 0 needed, got "
                             f"{self.sweeps}, {self.gradient_steps}")


def similarity_matrix(labels: np.ndarray) -> np.ndarray:
    """S in {-1, +1} (float32, n x n) from classes or multi-hot labels."""
    y = label_matrix(labels)
    return np.where(y @ y.T > 0, 1.0, -1.0).astype(np.float32)


def _similarity_operator(labels: np.ndarray):
    """v -> S v without forming S: images with the same label set share their row of S, so
    S = P T P^T with P (n x g) the one-hot membership of the g distinct label sets and T
    (g x g) = +1 / -1 between sets that share a label / do not -- for single-label data g is
    the number of classes, for MNIST-pairs at most 55."""
    y = label_matrix(labels)
    sets, group = np.unique(y, axis=0, return_inverse=True)
    group = group.reshape(-1)
    table = np.where(sets @ sets.T > 0, 1.0, -1.0)
    g = len(sets)

    def times(v):
        per_group = np.zeros((g,) + v.shape[1:])
        np.add.at(per_group, group, v)          # P^T v (a scatter-add over images, vectorised)
        return (table @ per_group)[group]       # P (T P^T v)

    return times


def stage1_codes(labels: np.ndarray, bits: int, cfg: CNNHConfig, *, seed: int) -> np.ndarray:
    """Approximate codes (n, bits) in {-1, +1} with S ~ H H^T / bits (module docstring).

    The residual R_j = q S - H H^T + h_j h_j^T is never formed: R_j v = q S v - H (H^T v) +
    h_j (h_j^T v), so a bit costs a few products with S (low-rank for single-label data)."""
    s_times = _similarity_operator(labels)
    n = len(labels)
    rng = np.random.default_rng(seed)
    h = np.zeros((n, bits), dtype=np.float64)
    for _ in range(cfg.sweeps):
        for j in range(bits):                  # a loop over bits, each step vectorised
            others = np.delete(h, j, axis=1)

            def r_times(v, others=others):
                v = v.reshape(n, -1)
                return bits * s_times(v) - others @ (others.T @ v)

            operator = LinearOperator((n, n), matvec=r_times, matmat=r_times, dtype=np.float64)
            start = h[:, j] if h[:, j].any() else rng.standard_normal(n)
            value, vector = eigsh(operator, k=1, which="LA", v0=start, tol=1e-4)
            lam = max(float(value[0]), 0.0)
            col = np.clip(np.sqrt(lam) * vector[:, 0], -1.0, 1.0)
            step = 1.0 / (12.0 * n + 4.0 * lam)   # 1 / a Lipschitz bound of the gradient on the box
            for _ in range(cfg.gradient_steps):
                grad = 4.0 * (float(col @ col) * col - r_times(col)[:, 0])
                col = np.clip(col - step * grad, -1.0, 1.0)
            h[:, j] = col
    return np.where(h >= 0, 1, -1).astype(np.int8)


def stage1_objective(labels: np.ndarray, codes: np.ndarray) -> float:
    """||S - H H^T / q||_F^2 / n^2 of ``codes`` (n, q) in {-1, +1}."""
    s = similarity_matrix(labels)
    h = codes.astype(np.float32)
    return float(np.mean((s - h @ h.T / h.shape[1]) ** 2))


class CNNH(DeepHead):
    """CNNH at ``bits`` bits (a :class:`~repro.methods.base.Retriever`): stage 1 on the
    training labels, stage 2 on the training rows (module docstring); its index
    (:class:`~repro.methods.hash_heads.HashIndex`) codes the sign of the network's outputs."""

    name = "cnnh"

    def fit(self, x: np.ndarray, y: np.ndarray, *, seed: int) -> HashIndex:
        x, _ = check_training_data(x, y)
        self.log(f"[cnnh {self.bits} bits] stage 1: approximate codes of {len(x)} training images")
        target = stage1_codes(y, self.bits, self.cfg, seed=seed).astype(np.float32)
        network = self._model(
            x, lambda h: layers.Dense(self.bits, activation="tanh", name="codes")(h), seed)

        def loss(y, out):
            return ops.mean(ops.sum(ops.square(out - y), axis=1))

        history = self._train(network, x, target, loss, seed)
        history[-1]["stage1_objective"] = stage1_objective(y, target)
        return HashIndex(network, history, threshold=0.0)
