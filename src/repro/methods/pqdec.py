"""PQDEC: Product Quantized Deep Embedded Clustering (Kolla and Venugopal; PQDEC paper Sec. III).

DEC's dense autoencoder d-500-500-2000-10 (pretrained, :mod:`repro.methods.pretrain`) gets a
product-quantized embedding (:class:`~repro.models.quantization_layers.ProductQuantization`):
M = 4 sub-vectors x L = 256 codewords = 32-bit codes (Sec. IV.B.2). The 10-d embedding is split
3, 3, 2, 2 and zero-padded to 12-d (:func:`~repro.models.quantization_layers.pad_subvectors`).

1. Codebooks: a :class:`~repro.quantization.ProductQuantizer` (k-means per subspace) fitted on the
   pretrained embeddings of all data. Centres: PQ k-means (Matsui et al. 2017; Eq. 6) on the codes,
   best of ``n_init`` random starts.
2. Every clustering epoch ("while not converged" of the Algorithm): one pass of mini-batch SGD on
   ``L = L_r + gamma * L_q`` (Eq. 4-5), which updates the codebooks by dL_q/dmu, the encoder W by
   dL_r/dW + gamma dL_q/dW and the decoder U by dL_r/dU; then all points are re-encoded with the
   current codebooks and PQ k-means runs again, warm-started from the previous centres (kept as
   codes: the codewords they index moved with the codebooks); stop when fewer than ``tol`` (0.1%)
   of the labels changed since the previous epoch, or after ``max_epochs``.

The epoch loop (:class:`QuantizedDEC`) is shared with BQDEC (:mod:`repro.methods.bqdec`),
which differs only in its quantization layer and code clustering. A code clustering (PQDEC:
:class:`PQCodeClustering`) has ``initial(codes)`` -> labels from scratch, ``refine(codes)`` ->
labels warm-started from its current centres, ``stored(codes)`` -> (codes, centres) as kept in
memory, and the attributes ``centres`` and ``code_bits`` (bits per code).

Timing (PQDEC Table 1 compares clustering speed): before the clock starts, :func:`warm_up` compiles
the model and traces its train and predict functions on a batch (graph tracing is not part of the
method), then restores the weights and optimizer state. The timed phases are reported apart in
``timings``: ``codebook_s`` (embedding + codebook k-means), ``init_s`` (initial encoding and the
``n_init`` restarts of the code clustering), and over the epochs ``network_s`` (mini-batch
training passes), ``encode_s`` (re-encoding all points) and ``assign_s`` (code clustering).
Batches come from :class:`ShuffledBatches`, a ``keras.utils.PyDataset`` like DEC's feeder (no
tf.data copy of the whole data set).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np
from sklearn.cluster import kmeans_plusplus

from repro.models.quantization_layers import ProductQuantization, QuantizedAutoencoder, pad_subvectors
from repro.quantization import PQKMeans, ProductQuantizer, code_dtype

from .base import ClusteringResult, check_inputs, score_labels
from .pretrain import OPTIMIZERS, make_optimizer
from .self_training import prepare_input


@dataclass
class QuantizedClusteringConfig:
    """Clustering phase shared by PQDEC and BQDEC ("a similar parameter setting as DEC", IV.B.2).

    gamma: weight of L_q; not given by the paper, 0.1 as in IDEC / DCEC, whose "gamma > 0 is a
        coefficient that controls degree of distortion" the paper repeats.
    batch_size 256, learning_rate 0.01: paper IV.B.2 and its Algorithm. optimizer "sgd" with
        momentum 0.9: DEC's clustering-phase optimizer.
    max_epochs 10: the paper times 10 clustering epochs (IV.B.3). tol 0.001: the 0.1% threshold.
    n_init 20: restarts of the initial code clustering (DEC's 20 k-means restarts).
    init_iter 20: at most this many assignment steps per restart (our choice; early stop at a
        fixed point). init: the restarts' initial centres, "random" (K random data codes, as
        pqkmeans; the paper's reading) or "k-means++" (D^2 seeding on the decoded codes, a control
        of ours; PQ k-means only, BQDEC's k-majority keeps random starts). shuffle: reshuffle the data every epoch (our choice, Keras's default).
    predict_batch_size: batch of the all-data encoding (speed only).
    """

    gamma: float = 0.1
    batch_size: int = 256
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    max_epochs: int = 10
    tol: float = 0.001
    n_init: int = 20
    init_iter: int = 20
    shuffle: bool = True
    predict_batch_size: int = 4096
    init: str = "random"

    INITS: ClassVar[tuple[str, ...]] = ("random", "k-means++")

    _COUNT_FIELDS: ClassVar[tuple[str, ...]] = (
        "batch_size", "max_epochs", "n_init", "init_iter", "predict_batch_size")

    def __post_init__(self):
        for name in self._COUNT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not self.learning_rate > 0 or not 0 <= self.momentum < 1:
            raise ValueError(f"need learning_rate > 0 and momentum in [0, 1), got "
                             f"{self.learning_rate!r} and {self.momentum!r}")
        if not 0 <= self.tol < 1:
            raise ValueError(f"tol must be in [0, 1), got {self.tol}")
        if not self.gamma >= 0:
            raise ValueError(f"gamma must be >= 0, got {self.gamma}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of {OPTIMIZERS}")
        if self.init not in self.INITS:
            raise ValueError(f"unknown init {self.init!r}; expected one of {self.INITS}")


@dataclass
class PQDECConfig(QuantizedClusteringConfig):
    """PQDEC: :class:`QuantizedClusteringConfig` plus the product quantizer.

    n_subspaces 4, n_codewords 256: "32 bits of 4 parts with each 8 bits" (IV.B.2).
    pq_fit_iter 25: k-means iterations per subspace for the initial codebooks (our choice, the
        :meth:`ProductQuantizer.fit` default). pq_kmeans_iter 10: PQ k-means assignment steps per
        epoch, warm-started (our choice; pqkmeans' default ``iteration``).
    """

    n_subspaces: int = 4
    n_codewords: int = 256
    pq_fit_iter: int = 25
    pq_kmeans_iter: int = 10

    _COUNT_FIELDS: ClassVar[tuple[str, ...]] = QuantizedClusteringConfig._COUNT_FIELDS + (
        "n_subspaces", "n_codewords", "pq_fit_iter", "pq_kmeans_iter")


class ShuffledBatches(keras.utils.PyDataset):
    """Mini-batches ``x[perm[i*b:(i+1)*b]]`` of a fresh seeded permutation every epoch (the last
    batch shorter); ``shuffle=False`` keeps data order. Copies one batch at a time."""

    def __init__(self, x: np.ndarray, batch_size: int, *, shuffle: bool = True, seed: int = 0):
        super().__init__(workers=1, use_multiprocessing=False)
        self.x, self.batch_size, self.shuffle = x, int(batch_size), shuffle
        self._rng = np.random.default_rng(seed)
        self._order = self._permutation()

    def _permutation(self) -> np.ndarray:
        n = len(self.x)
        return self._rng.permutation(n) if self.shuffle else np.arange(n)

    @property
    def num_batches(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i: int):
        return self.x[np.sort(self._order[i * self.batch_size:(i + 1) * self.batch_size])]

    def on_epoch_end(self):
        self._order = self._permutation()


class _Batches(keras.utils.PyDataset):
    """A fixed list of batches (warm-up only)."""

    def __init__(self, batches: list):
        super().__init__(workers=1, use_multiprocessing=False)
        self.batches = batches

    @property
    def num_batches(self):
        return len(self.batches)

    def __getitem__(self, i: int):
        return self.batches[i]


def warm_up(model: keras.Model, optimizer: keras.optimizers.Optimizer, batches: list,
            predicts=()) -> float:
    """Compile ``model``, run one train step per batch and each ``predicts`` call (this traces the
    train / predict functions), then restore the weights and the optimizer state. Returns seconds.

    ``batches``: what ``fit`` would get per step (an array, or an (x, y) tuple); give a full and a
    short batch when the epoch ends with a short one. The traced functions stay with the model as
    long as it is not compiled again.
    """
    started = time.perf_counter()
    model.compile(optimizer=optimizer)
    optimizer.build(model.trainable_variables)
    weights = model.get_weights()
    state = [keras.ops.convert_to_numpy(v) for v in optimizer.variables]
    model.fit(_Batches(batches), epochs=1, verbose=0)
    for call in predicts:
        call()
    model.set_weights(weights)
    for variable, value in zip(optimizer.variables, state):
        variable.assign(value)
    return time.perf_counter() - started


def first_batches(x: np.ndarray, batch_size: int, *extra) -> list:
    """A full batch and (if the data do not split evenly) a short one, for :func:`warm_up`;
    ``extra`` arrays are sliced alongside (batch = tuple)."""
    sizes = [min(batch_size, len(x))] + ([len(x) % batch_size] if len(x) % batch_size else [])
    return [x[:m] if not extra else (x[:m], *(a[:m] for a in extra)) for m in sizes]


class PhaseTimer(keras.callbacks.Callback):
    """Seconds spent inside the train steps (``network_s``, summed) and in ``fit`` (``fit_s``)."""

    def __init__(self):
        super().__init__()
        self.network_s, self.fit_s = 0.0, 0.0
        self._batch = self._fit = 0.0

    def on_train_begin(self, logs=None):
        self._fit = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        self._batch = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.network_s += time.perf_counter() - self._batch

    def on_train_end(self, logs=None):
        self.fit_s = time.perf_counter() - self._fit


def best_of_restarts(make, codes: np.ndarray, n_init: int, seed: int, init_centres=None):
    """Fit ``make(seed + r)`` for r < n_init on codes; the fit of least final objective.
    ``init_centres(seed)``: the restart's initial centres (default: the fit's own random ones)."""
    fits = [make(seed + r).fit(codes, **({} if init_centres is None else
                                         {"init_centres": init_centres(seed + r)}))
            for r in range(n_init)]
    return min(fits, key=lambda fit: fit.objective_history_[-1])


def kmeans_plus_plus_codes(codebooks: np.ndarray, codes: np.ndarray, n_clusters: int,
                           seed: int) -> np.ndarray:
    """K initial PQ centre codes: k-means++ (D^2) seeding on the decoded codes, re-encoded."""
    quantizer = ProductQuantizer.from_codebooks(codebooks)
    decoded = quantizer.decode(codes)
    centres, _ = kmeans_plusplus(decoded, n_clusters, random_state=seed)
    return quantizer.encode(centres.astype(np.float32))


def fit_codebooks(embedding: np.ndarray, cfg: PQDECConfig, seed: int):
    """PQDEC's initial codebooks (step 1 of the module docstring): (the
    :class:`~repro.quantization.ProductQuantizer` fitted on the padded embedding, the padded
    embedding)."""
    padded = pad_subvectors(embedding, cfg.n_subspaces)
    quantizer = ProductQuantizer(cfg.n_subspaces, cfg.n_codewords).fit(
        padded, seed=seed, n_iter=cfg.pq_fit_iter)
    return quantizer, padded


class PQCodeClustering:
    """PQ k-means (Eq. 6) of (n, M) codes under the current ``codebooks()`` (PQDEC: its layer's,
    which training moves); centres are PQ codes."""

    def __init__(self, codebooks, n_clusters: int, cfg: PQDECConfig, seed: int):
        self.codebooks, self.n_clusters, self.cfg, self.seed = codebooks, n_clusters, cfg, seed
        self.dtype = code_dtype(cfg.n_codewords)
        self.code_bits = cfg.n_subspaces * math.ceil(math.log2(cfg.n_codewords))

    def _kmeans(self, n_iter: int, seed: int) -> PQKMeans:
        return PQKMeans(self.codebooks(), self.n_clusters, n_iter=n_iter, seed=seed)

    def initial(self, codes):
        codes = codes.astype(self.dtype)
        make = lambda s: self._kmeans(self.cfg.init_iter, s)  # noqa: E731
        start = None
        if self.cfg.init == "k-means++":
            codebooks = self.codebooks()
            start = lambda s: kmeans_plus_plus_codes(codebooks, codes, self.n_clusters, s)  # noqa: E731
        fit = best_of_restarts(make, codes, self.cfg.n_init, self.seed, start)
        self.centres = fit.centres_
        return fit.labels_

    def refine(self, codes):
        fit = self._kmeans(self.cfg.pq_kmeans_iter, self.seed).fit(codes.astype(self.dtype),
                                                                   init_centres=self.centres)
        self.centres = fit.centres_
        return fit.labels_

    def stored(self, codes):
        return codes.astype(self.dtype), self.centres.astype(self.dtype)


class PQKMeansClusterer:
    """PQDEC's initial clustering without the network, on vectors x (n, d) (the accuracy
    controls run it on the pretrained embedding): codebooks fitted on x as :class:`PQDEC` fits
    them, x's codes, then PQ k-means (``config.init``, best of ``config.n_init``)."""

    def __init__(self, n_clusters: int, config: PQDECConfig | None = None):
        self.n_clusters, self.config = n_clusters, config or PQDECConfig()

    def fit(self, x: np.ndarray, *, seed: int, y: np.ndarray | None = None) -> ClusteringResult:
        cfg = self.config
        x = check_inputs(x, self.n_clusters, y)
        quantizer, padded = fit_codebooks(x.reshape(len(x), -1), cfg, seed)
        codes = quantizer.encode(padded).astype(code_dtype(cfg.n_codewords))
        clustering = PQCodeClustering(lambda: quantizer.codebooks, int(self.n_clusters), cfg, seed)
        labels = clustering.initial(codes)
        return ClusteringResult(labels, info={"codes": codes, "centres": clustering.centres,
                                              "codebooks": quantizer.codebooks, "seed": seed})


class CodeClusteringUpdate(keras.callbacks.Callback):
    """At every epoch end: re-encode all x, re-cluster the codes, log one history row, stop on tol.

    After training: ``labels``, ``codes`` (last encoding), ``history``, ``stopped_by``
    ("tol" | "max_epochs"), ``n_epochs``.
    """

    def __init__(self, x, clustering, cfg: QuantizedClusteringConfig, *,
                 initial_labels, initial_codes, started_at: float, y_true=None):
        super().__init__()
        self.x, self.clustering, self.cfg, self.y_true = x, clustering, cfg, y_true
        self.labels, self.codes, self.started_at = initial_labels, initial_codes, started_at
        self.steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
        self.history = [self._row(0, None, {})]
        self.stopped_by, self.n_epochs = "max_epochs", 0
        self.encode_s = self.assign_s = 0.0

    def _row(self, epoch: int, delta_label, logs: dict) -> dict:
        acc, nmi = score_labels(self.y_true, self.labels)
        row = {"iteration": epoch * self.steps_per_epoch, "epoch": epoch, "acc": acc, "nmi": nmi,
               "delta_label": delta_label, "elapsed_s": time.perf_counter() - self.started_at}
        for key in ("loss", "reconstruction_loss", "quantization_loss"):
            row[key] = float(logs[key]) if key in logs else float("nan")
        return row

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        started = time.perf_counter()
        self.codes = self.model.predict_codes(self.x, batch_size=self.cfg.predict_batch_size)
        encoded = time.perf_counter()
        labels = self.clustering.refine(self.codes)
        self.encode_s += encoded - started
        self.assign_s += time.perf_counter() - encoded
        delta_label = float(np.mean(labels != self.labels))
        self.labels, self.n_epochs = labels, epoch + 1
        row = self._row(epoch + 1, delta_label, logs)
        self.history.append(row)
        logs.update({k: row[k] for k in ("acc", "nmi", "delta_label") if row[k] is not None})
        if delta_label < self.cfg.tol:
            self.stopped_by = "tol"
            self.model.stop_training = True


class QuantizedDEC:
    """The clustering phase shared by PQDEC and BQDEC on a pretrained (autoencoder, encoder)
    pair (module docstring): ``fit`` adds the quantization layer, warms the model up (untimed),
    runs the initial code clustering and the epoch loop, and trains the pair in place; one
    ``fit`` per estimator (build a new one, with fresh models, for the next).

    Subclasses give ``_layer()`` (the quantization layer), ``_code_clustering(layer, x, seed)``
    ((the code clustering, seconds fitting codebooks), timed: the clock runs) and
    ``_info(layer)`` (their own info entries, after training). The result: labels, history
    (one row per epoch, row 0 the initial clustering: losses NaN, delta_label None), timings
    (``cluster_s``: from the clock's start to the end of the last epoch, after the untimed
    ``warmup_s``; its phases: module docstring), info (``n_epochs``, ``stopped_by``, ``code_bits``, ``code_bytes``, ``codes``,
    ``codes_nbytes``, ``centres``, ``codebooks_nbytes``, ACC / NMI of the initial and final
    clustering when y is given).
    """

    name: ClassVar[str]
    config_class: ClassVar[type]
    decode = "continuous"   # what the decoder reads (QuantizedAutoencoder.DECODE)

    def __init__(self, n_clusters: int, config: QuantizedClusteringConfig | None = None, *,
                 autoencoder: keras.Model, encoder: keras.Model, verbose: int = 0):
        self.n_clusters, self.config = n_clusters, config or self.config_class()
        self.autoencoder, self.encoder, self.verbose = autoencoder, encoder, verbose
        self._fitted = False

    def _check(self) -> None:
        """Errors of this method's settings against the encoder (before anything trains)."""

    def fit(self, x: np.ndarray, *, seed: int, y: np.ndarray | None = None) -> ClusteringResult:
        cfg, encoder = self.config, self.encoder
        x = prepare_input(encoder, check_inputs(x, self.n_clusters, y))
        self._check()
        if self._fitted:
            raise RuntimeError(f"{self.name} trains its autoencoder in place: construct a new "
                               f"{type(self).__name__} with fresh models for another fit")
        self._fitted = True
        keras.utils.set_random_seed(seed)
        layer = self._layer()
        model = QuantizedAutoencoder(self.autoencoder, encoder, layer, gamma=cfg.gamma,
                                     decode=self.decode, name=self.name.lower())
        batch = cfg.predict_batch_size
        warmup_s = warm_up(model, make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.momentum),
                           first_batches(x, cfg.batch_size),
                           [lambda: encoder.predict(x, batch_size=batch, verbose=0),
                            lambda: model.predict_codes(x, batch_size=batch)])
        keras.utils.set_random_seed(seed)
        started_at = time.perf_counter()
        clustering, codebook_s = self._code_clustering(layer, x, seed)
        init_start = time.perf_counter()
        codes = model.predict_codes(x, batch_size=batch)
        labels = clustering.initial(codes)
        init_s = time.perf_counter() - init_start
        updater = CodeClusteringUpdate(x, clustering, cfg, initial_labels=labels,
                                       initial_codes=codes, started_at=started_at, y_true=y)
        initial_acc, initial_nmi = updater.history[0]["acc"], updater.history[0]["nmi"]
        if self.verbose:
            print(f"initial code clustering (n_init={cfg.n_init}): acc {initial_acc}, "
                  f"nmi {initial_nmi}")
        timer = PhaseTimer()
        model.fit(ShuffledBatches(x, cfg.batch_size, shuffle=cfg.shuffle, seed=seed),
                  epochs=cfg.max_epochs, callbacks=[updater, timer], verbose=self.verbose)
        final_acc, final_nmi = score_labels(y, updater.labels)
        stored_codes, stored_centres = clustering.stored(updater.codes)
        info = {"n_epochs": updater.n_epochs, "stopped_by": updater.stopped_by,
                "n_iterations": updater.n_epochs * updater.steps_per_epoch,
                "initial_acc": initial_acc, "initial_nmi": initial_nmi, "final_acc": final_acc,
                "final_nmi": final_nmi, "code_bits": clustering.code_bits,
                "code_bytes": stored_codes.nbytes // len(stored_codes),
                "codes_nbytes": stored_codes.nbytes, "codes": stored_codes,
                "centres": stored_centres, "seed": seed, "restarts": cfg.n_init,
                "init": cfg.init}
        timings = {"pretrain_s": 0.0, "init_s": init_s, "network_s": timer.network_s,
                   "encode_s": updater.encode_s, "assign_s": updater.assign_s,
                   "cluster_s": time.perf_counter() - started_at, "warmup_s": warmup_s,
                   "codebook_s": codebook_s}
        info.update(method=self.name, **self._info(layer))
        return ClusteringResult(labels=updater.labels, history=updater.history, info=info,
                                timings=timings)


class PQDEC(QuantizedDEC):
    """PQDEC's clustering phase (module docstring): ``PQDEC(n_clusters, config, autoencoder=,
    encoder=, verbose=).fit(x, seed=..., y=None)``.

    autoencoder, encoder: pretrained, sharing layers (repro.models.autoencoders); embedding
    dimension D >= n_subspaces. x: (n, ...) float data in [0, 1], n >= n_codewords; images are
    flattened for a dense net. seed: seeds Keras, the codebook k-means and the PQ k-means
    restarts. y: (n,) true labels, only to score the history.

    Beside :class:`QuantizedDEC`'s result: ``code_bits`` 32, ``code_bytes`` 4, ``codes`` (n, M)
    uint8, ``centres`` (K, M) uint8, ``codebooks`` (M, L, ceil(D/M)) float32 (final, padded
    coordinates zero), ``codebooks_nbytes``, ``initial_quantization_loss``.
    """

    name = "PQDEC"
    config_class = PQDECConfig

    def _layer(self):
        return ProductQuantization(self.config.n_subspaces, self.config.n_codewords,
                                   name="product_quantization")

    def _code_clustering(self, layer, x, seed):
        cfg, started = self.config, time.perf_counter()
        embedding = np.asarray(self.encoder.predict(x, batch_size=cfg.predict_batch_size,
                                                    verbose=0))
        quantizer, padded = fit_codebooks(embedding, cfg, seed)
        layer.set_codebooks(quantizer.codebooks)
        self._initial = quantizer, padded
        return (PQCodeClustering(layer.get_codebooks, int(self.n_clusters), cfg, seed),
                time.perf_counter() - started)

    def _info(self, layer):
        quantizer, padded = self._initial
        codebooks = layer.get_codebooks()
        return {"codebooks": codebooks, "codebooks_nbytes": int(codebooks.nbytes),
                "initial_quantization_loss": quantizer.quantization_error(padded)}
