"""DCN: Deep Clustering Network (Yang, Fu, Sidiropoulos, Hong, ICML 2017).

"Towards K-means-friendly Spaces: Simultaneous Deep Learning and Clustering". DCN trains
an autoencoder ``f`` (encoder) / ``g`` (decoder) jointly with k-means in the embedding::

    min_{W, M, {s_i}}  sum_i  l(g(f(x_i)), x_i) + lam/2 * ||f(x_i) - M s_i||^2      (paper Eq. 5)

with ``l(x, y) = ||x - y||^2`` and one-hot assignments ``s_i``. Algorithm 1 (Sec. 4 of the
paper) alternates, per mini-batch: (a) network update: an SGD step on the per-sample loss
above with ``M`` and ``s_i`` fixed; (b) assignment update: ``s_i`` = nearest centre of the
new ``f(x_i)``; (c) centroid update with the per-cluster adaptive rate:
``c_k += 1; m_k <- m_k - (1/c_k) (m_k - f(x_i))``. The autoencoder is pretrained elsewhere
(``repro.methods.pretrain``); centres and assignments start from k-means on its embedding.
Predicted labels are the nearest centres of the final embedding (the authors' script instead
re-runs a fresh k-means on it at the end; not done here).

Use: ``DCN(K, DCNConfig(...), pretrained=...).fit(x, seed=..., y=None)``.

Backend-agnostic: the network step is a compiled Keras ``train_on_batch`` on a two-output
model ``x -> (x_hat, f(x))`` whose second target is ``M s_i`` (the assigned centres), so
Keras owns the gradients on tensorflow, jax and torch alike; the k-means state (``M``,
counts) is a tiny ``(K, d)`` numpy array updated in closed form per batch.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class DCNConfig:
    """DCN clustering-phase hyperparameters (defaults: the authors' raw-MNIST setting).

    Sources: the authors' Theano code ``boyangumn/DCN-New`` (``run_raw_mnist.py`` config
    and ``multi_layer_km.py``), which the ICML paper's raw-MNIST experiment used.

    lam: weight of the k-means term in the paper's form ``l + lam/2 ||f(x) - M s||^2``.
        The authors' code minimises ``lbd*||x - x_hat||^2 + beta*||f(x) - M s||^2`` with
        ``lbd = beta = 1`` (raw MNIST), i.e. ``lam/2 = 1`` -> ``lam = 2``.
    batch_size: 256 (authors' raw-MNIST config).
    learning_rate: 1e-4 (``finetune_lr``, authors' raw-MNIST config) of SGD. (Their code
        doubles the rate for biases; here all weights share one rate.)
    momentum: 0.9 (``mu``); the authors' update is Nesterov momentum, so ``nesterov=True``.
    epochs: 50 (``training_epochs``, authors' raw-MNIST config): maximum epochs.
    tol: stop when the fraction of samples whose nearest-centre label changed over an epoch
        is below ``tol`` (0.1%, the convergence threshold the GAPDCEC paper states for its
        baselines; the authors' code has no early stop: ``tol = 0`` disables it).
    n_init: k-means restarts for the initial centres (20 as in DEC/IDEC's code and the
        PyTorch re-implementation xuyxu/Deep-Clustering-Network; the authors used 10).
    initial_count: starting value of every per-cluster count ``c_k`` (100 in the authors'
        code, so the first batch cannot throw a k-means centre onto a single sample).
    kmeans_refit_every: if > 0, every that many epochs re-run full k-means on the whole
        embedding, warm-started at the current centres (the authors' code does this every
        10 epochs; Algorithm 1 of the paper does not, hence 0 = off by default).
    """

    lam: float = 2.0
    batch_size: int = 256
    learning_rate: float = 1e-4
    momentum: float = 0.9
    epochs: int = 50
    tol: float = 0.001
    n_init: int = 20
    initial_count: float = 100.0
    kmeans_refit_every: int = 0

    def __post_init__(self):
        checks = {
            "lam": self.lam >= 0, "batch_size": self.batch_size >= 1,
            "learning_rate": self.learning_rate > 0, "momentum": 0 <= self.momentum < 1,
            "epochs": self.epochs >= 0, "tol": self.tol >= 0, "n_init": self.n_init >= 1,
            "initial_count": self.initial_count > 0,
            "kmeans_refit_every": self.kmeans_refit_every >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"DCNConfig.{name} out of range: {getattr(self, name)!r}")


def nearest_centres(z: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Assignment update (Algorithm 1): index of the nearest centre, z (n, d), centres (K, d) -> (n,)."""
    z = np.asarray(z, dtype=np.float64)
    sq = (z * z).sum(1, keepdims=True) - 2.0 * z @ centres.T + (centres * centres).sum(1)
    return np.argmin(sq, axis=1)


def kmeans_term(z: np.ndarray, centres: np.ndarray, labels: np.ndarray) -> float:
    """Mean squared distance to the assigned centre, mean_i ||z_i - m_{s_i}||^2 (z (n, d))."""
    diff = np.asarray(z, dtype=np.float64) - centres[labels]
    return float((diff * diff).sum(1).mean())


def update_centres(centres: np.ndarray, counts: np.ndarray, z: np.ndarray,
                   labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroid update of Algorithm 1 for one batch, vectorised and exact.

    The sequential rule ``c_k += 1; m_k <- m_k - (m_k - z_j) / c_k`` applied to the batch
    samples ``z_1..z_b`` assigned to cluster k is the running mean of ``c_k`` virtual points
    at ``m_k`` plus those samples, so whatever their order it ends at
    ``(c_k m_k + sum_j z_j) / (c_k + b)`` with ``c_k + b`` as new count: this is what is
    computed here, for all clusters at once (equal to the authors' ``batch_km``, which also
    assigns the whole batch first). Shapes: centres (K, d), counts (K,), z (b, d), labels (b,).
    Returns new (centres, counts); the inputs are not modified.
    """
    n_clusters = centres.shape[0]
    onehot = np.eye(n_clusters)[labels]                                   # (b, K)
    batch_counts = onehot.sum(0)                                          # (K,)
    new_counts = counts + batch_counts
    sums = onehot.T @ np.asarray(z, dtype=np.float64)                     # (K, d)
    new_centres = (counts[:, None] * centres + sums) / new_counts[:, None]
    return new_centres, new_counts


def _sum_squared_error(y_true, y_pred):
    """Per-sample ||y_true - y_pred||^2 (summed over features), keras.ops; Keras averages the batch."""
    from keras import ops

    return ops.sum(ops.square(y_true - y_pred), axis=-1)


def build_dcn_network(autoencoder, encoder, cfg: DCNConfig):
    """Compile ``x -> (x_hat, f(x))`` with loss ``||x - x_hat||^2 + lam/2 ||f(x) - target||^2``.

    Shares the layers (and weights) of ``autoencoder`` and ``encoder``: when both are
    functional models on the same input tensor the graph is reused (no double encoder pass),
    otherwise both are called on a new input.
    """
    import keras

    from .pretrain import make_optimizer

    if list(encoder.inputs) and encoder.inputs[0] is autoencoder.inputs[0]:
        network = keras.Model(autoencoder.inputs[0], [autoencoder.outputs[0], encoder.outputs[0]])
    else:
        inputs = keras.Input(shape=autoencoder.inputs[0].shape[1:])
        network = keras.Model(inputs, [autoencoder(inputs), encoder(inputs)])
    optimizer = make_optimizer("sgd", cfg.learning_rate, cfg.momentum, nesterov=cfg.momentum > 0)
    network.compile(optimizer=optimizer, loss=[_sum_squared_error, _sum_squared_error],
                    loss_weights=[1.0, cfg.lam / 2.0])
    return network


def _flat_inputs(autoencoder, encoder, x, n_clusters, y) -> np.ndarray:
    """Validate the inputs (:func:`repro.methods.base.check_inputs`, K >= 2, a dense
    autoencoder taking the flattened x); return x flattened to float32 (n, d)."""
    from .base import check_inputs

    x = check_inputs(x, n_clusters, y)
    x = x.reshape(x.shape[0], -1)
    if n_clusters < 2:
        raise ValueError(f"n_clusters must be in [2, n={x.shape[0]}], got {n_clusters}")
    ae_dim, enc_dim = autoencoder.inputs[0].shape[-1], encoder.inputs[0].shape[-1]
    if ae_dim != x.shape[1] or enc_dim != x.shape[1] or len(autoencoder.inputs[0].shape) != 2:
        raise ValueError(f"flattened x has {x.shape[1]} features but the autoencoder/encoder "
                         f"take inputs of shape {autoencoder.inputs[0].shape}/{encoder.inputs[0].shape}")
    if autoencoder.outputs[0].shape[-1] != x.shape[1]:
        raise ValueError(f"autoencoder output has {autoencoder.outputs[0].shape[-1]} features, "
                         f"expected {x.shape[1]} (same as its input)")
    return x


def _embed(network, x, chunk=4096):
    """Full-data forward pass in chunks: embedding z (n, d) float64, ||x - x_hat||^2 (n,)."""
    recon_sq, parts = [], []
    for start in range(0, x.shape[0], chunk):  # loop over chunks, not samples
        x_hat, z = network.predict_on_batch(x[start:start + chunk])
        recon_sq.append(np.square(x[start:start + chunk] - np.asarray(x_hat)).sum(1))
        parts.append(np.asarray(z, dtype=np.float64))
    return np.concatenate(parts), np.concatenate(recon_sq)


def _objective_terms(recon_sq, z, centres, labels, lam) -> dict:
    """Mean reconstruction, mean k-means term and the objective (paper Eq. 5 divided by n)."""
    terms = {"reconstruction": float(recon_sq.mean()), "kmeans": kmeans_term(z, centres, labels)}
    terms["objective"] = terms["reconstruction"] + lam / 2.0 * terms["kmeans"]
    return terms


def _train_epoch(network, encoder, x, state, cfg, rng):
    """One pass of Algorithm 1 over shuffled mini-batches; updates ``state`` in place."""
    order = rng.permutation(x.shape[0])
    for start in range(0, x.shape[0], cfg.batch_size):
        idx = order[start:start + cfg.batch_size]
        targets = state["centres"][state["assign"][idx]].astype(np.float32)    # M s_i, (b, d)
        network.train_on_batch(x[idx], [x[idx], targets])                      # (a) network
        z = np.asarray(encoder.predict_on_batch(x[idx]), dtype=np.float64)
        labels = nearest_centres(z, state["centres"])                          # (b) assignments
        state["centres"], state["counts"] = update_centres(                    # (c) centres
            state["centres"], state["counts"], z, labels)
        state["assign"][idx] = labels
        state["steps"] += 1


def _history_row(state, epoch, labels, prev_labels, terms, y):
    from repro.methods.base import score_labels

    delta = None if prev_labels is None else float(np.mean(labels != prev_labels))
    acc, nmi = score_labels(y, labels)
    return {"iteration": state["steps"], "epoch": float(epoch), "acc": acc, "nmi": nmi,
            "loss": terms["objective"], "delta_label": delta,
            "reconstruction_loss": terms["reconstruction"], "clustering_loss": terms["kmeans"]}


def _initial_state(network, x, n_clusters, cfg, seed):
    """Step 1 of Algorithm 1: k-means (``n_init`` restarts) on the pretrained embedding."""
    from sklearn.cluster import KMeans

    z, _ = _embed(network, x)
    km = KMeans(n_clusters=n_clusters, n_init=cfg.n_init, random_state=seed).fit(z)
    return {"centres": km.cluster_centers_.astype(np.float64), "assign": km.labels_.copy(),
            "counts": np.full(n_clusters, float(cfg.initial_count)), "steps": 0,
            "initial_kmeans_inertia": float(km.inertia_)}


def _end_of_epoch(network, x, state, cfg, epoch):
    """Embed all of x; optional warm-started full k-means refit; (labels, objective terms)."""
    z, recon_sq = _embed(network, x)
    refit = cfg.kmeans_refit_every > 0 and epoch > 0 and epoch % cfg.kmeans_refit_every == 0
    if refit:
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=state["centres"].shape[0], init=state["centres"], n_init=1).fit(z)
        state["centres"] = km.cluster_centers_.astype(np.float64)
    labels = nearest_centres(z, state["centres"])
    if refit:
        state["assign"] = labels.copy()
    return labels, _objective_terms(recon_sq, z, state["centres"], labels, cfg.lam)


class DCN:
    """DCN's clustering phase on a fresh copy of ``pretrained`` (a dense
    :class:`~repro.methods.pretrain.PretrainedAutoencoder`), a :class:`Clusterer`.

    ``fit(x, *, seed, y=None)``: x (n, d) or (n, h, w, c) float32 in [0, 1] (flattened
    internally); y: optional (n,) labels, used only for the per-epoch acc/nmi monitoring in
    ``history``. The result's labels are the nearest centres of the final embedding (of the
    trained copy, kept as ``encoder_``).
    History: a row for the k-means initialisation (iteration 0) and one per epoch; ``loss``
    is the full-data objective mean_i ||x_i - x_hat_i||^2 + lam/2 ||f(x_i) - m_{s_i}||^2
    with s_i the nearest centre (its two means are added as ``reconstruction_loss`` and
    ``clustering_loss``). Stops early when delta_label < cfg.tol.
    """

    def __init__(self, n_clusters: int, cfg: DCNConfig | None = None, *, pretrained=None,
                 verbose: int = 1):
        from .pretrain import PretrainedAutoencoder

        if not isinstance(pretrained, PretrainedAutoencoder):
            raise ValueError(f"DCN needs a pretrained autoencoder (a PretrainedAutoencoder, "
                             f"repro.methods.pretrain), got {type(pretrained).__name__}")
        self.n_clusters, self.cfg = n_clusters, cfg or DCNConfig()
        self.pretrained, self.verbose = pretrained, verbose

    def fit(self, x, *, seed: int, y=None):
        import keras

        from repro.methods.base import ClusteringResult

        cfg, n_clusters = self.cfg, self.n_clusters
        autoencoder, encoder = self.pretrained.build()
        x = _flat_inputs(autoencoder, encoder, x, n_clusters, y)
        y = None if y is None else np.asarray(y)
        keras.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        network = build_dcn_network(autoencoder, encoder, cfg)
        state = _initial_state(network, x, n_clusters, cfg, seed)
        init_s = time.perf_counter() - t0
        labels, terms = _end_of_epoch(network, x, state, cfg, 0)
        history = [_history_row(state, 0, labels, None, terms, y)]
        if self.verbose:
            _print_row(history[-1])
        stopped_by = "max_epochs"
        for epoch in range(1, cfg.epochs + 1):
            _train_epoch(network, encoder, x, state, cfg, rng)
            prev_labels = labels
            labels, terms = _end_of_epoch(network, x, state, cfg, epoch)
            history.append(_history_row(state, epoch, labels, prev_labels, terms, y))
            if self.verbose:
                _print_row(history[-1])
            if history[-1]["delta_label"] < cfg.tol:
                stopped_by = "tol"
                break
        info = {"centers": state["centres"], "counts": state["counts"],
                "epochs_run": len(history) - 1, "stopped_by": stopped_by,
                "n_updates": state["steps"], "initial_acc": history[0]["acc"], "seed": seed,
                "config": dataclasses.asdict(cfg), "method": "DCN",
                "initial_kmeans_inertia": state["initial_kmeans_inertia"],
                "pretrain_loss": self.pretrained.loss_history}
        timings = {"pretrain_s": self.pretrained.seconds, "init_s": init_s,
                   "cluster_s": time.perf_counter() - t0}
        self.encoder_ = encoder  # the trained copy (its embedding gave the labels)
        return ClusteringResult(labels=labels, history=history, timings=timings, info=info)


def _print_row(row):
    acc = "-" if row["acc"] is None else f"{row['acc']:.4f}"
    nmi = "-" if row["nmi"] is None else f"{row['nmi']:.4f}"
    delta = "-" if row["delta_label"] is None else f"{row['delta_label']:.4f}"
    print(f"DCN epoch {row['epoch']:.0f} (step {row['iteration']}): loss {row['loss']:.4f}, "
          f"acc {acc}, nmi {nmi}, delta_label {delta}")
