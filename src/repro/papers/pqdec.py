"""PQDEC (Kolla & VenuGopal): clustering speed and memory, Table 1 and Figures 2-4.

The paper claims that product-quantizing DEC's embedding (PQDEC) clusters faster and with
less memory than K-means, K-medoids, KDK-means, DEC and its binary sibling BQDEC, "without
affecting the cluster accuracy", on MNIST-full, MNIST-test and STL-10.

One measurement definition for every method (stated in the report):
- **Clustering speed** (``time_s``): wall-clock seconds of the clustering phase, 10 clustering
  epochs (the paper's "with respect to 10 number of epochs"), data already in memory,
  pretraining excluded. Keras methods are warmed up before the clock starts (compile, graph
  tracing, one train step and the predict calls, then the weights and optimizer state are
  restored: ``warmup_s``, untimed). An epoch is one pass over all points:
  one Lloyd / Voronoi iteration for K-means, KDK-means and K-medoids; one pass of
  mini-batch training (plus the method's own target / code-clustering updates) for DEC,
  BQDEC and PQDEC. No early stop (tol = 0) so every method does exactly 10 epochs, except
  K-medoids, which stops when its medoids no longer change after 3-5 iterations, and sklearn's
  K-means, which stops when no label changes: ``epochs_done`` records the epochs / iterations
  each method ran (K-means: those of the restart it kept; DEC: steps x batch / n), and
  ``epoch_s`` the seconds per epoch after the initialisation (the fair reading where methods
  did unequal numbers of epochs; none for K-means, whose restarts each iterate).
- **Restarts**: the same ``n_init`` restarts for every method that restarts (K-means on
  pixels, DEC's k-means on the embedding, BQDEC's k-majority, PQDEC's PQ k-means; paper
  profile 20, DEC's count); K-medoids and KDK-means start once from their ++ seeding
  (``restarts`` records it; ``restart_s`` = initialisation seconds per restart).
- **Phases** (seconds, per repeat): ``codebook_s`` (PQDEC: embedding + codebook k-means),
  ``init_s`` (the initial clustering with its restarts; K-means: all of it), and over the
  epochs ``network_s`` (mini-batch training steps), ``encode_s`` (re-encoding all points:
  PQDEC / BQDEC codes, DEC's soft assignments Q and target P) and ``assign_s`` (code
  clustering; K-medoids / KDK-means: their iterations); ``other_s`` = the rest (Keras's loop,
  monitoring). Every Keras method is fed by a ``keras.utils.PyDataset`` (no tf.data copy).
- **Memory consumption** (``memory_mb``, the paper's Table 1 column): peak resident memory of
  the process during the clustering phase minus the resident memory just before it, in MB
  (2^20 bytes), sampled every 2 ms by :mod:`repro.measure`; the same meter for numpy, faiss
  and Keras code.
- **Stored representation** (``storage_mb``, what the paper's "reduced memory space" claims are
  about): the bytes of what the method clusters and keeps -- float32 pixels (K-means,
  KDK-means, K-medoids), DEC's float32 10-d embedding, BQDEC's packed bits, PQDEC's 8-bit
  codes and codebooks -- plus its cluster centres (:func:`stored_bytes`); network weights
  are not counted (the encoders are alike).
- **Repeats**: each clustering phase is timed ``timing_repeats`` times (same seed, models
  rebuilt from the same pretrained weights); the claims need 3 timings per cell to decide
  a speed comparison (:mod:`repro.report.claims`). ACC, NMI and the histories are those of the
  first repeat (the repeats give the same labels). Thread counts are pinned (``threads``) and
  recorded in the provenance notes.
- **Accuracy controls** (``controls``; untimed, in PQDEC's cell, pretrained embedding of the
  same seed): ``kmeans-embedding`` (k-means, ``n_init`` restarts, on the embedding PQDEC starts
  from = DEC's start), ``pqkmeans-random`` (PQ k-means of the initial codes from random data
  codes, the paper's reading: PQDEC's start), ``pqkmeans-kmeans++`` (the same codes from
  k-means++ centres) and, with ``control_training``, ``pqdec-kmeans++init`` (PQDEC's 10
  epochs from that start).
- **ACC and NMI** of every method after its 10 epochs, to judge "without affecting the
  cluster accuracy".
Absolute seconds and MB depend on the machine; the claims are orderings judged on numbers
measured in one run on one machine.

Method readings (see each module's docstring): KDK-means = k-means with Kanungo et al.'s
k-d tree filtering (the paper does not define it); K-medoids = the alternating (Voronoi
iteration) algorithm with chunked distances (no n x n matrix); BQDEC = a 256-unit embedding
binarised by sign (code value a * sign(z), a = mean |z| per unit; the decoder reads the code, as
the paper's Eq. 2), clustered by binary k-means (Hamming); PQDEC = DEC's 10-d embedding
split into 4 sub-vectors (3, 3, 2, 2 dims) of 8-bit codes, clustered by PQ k-means.
"""

from __future__ import annotations

import dataclasses
import os
import types
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from threadpoolctl import threadpool_limits

from repro.measure import measure
from repro.methods.bqdec import BQDEC, BQDECConfig
from repro.methods.dec import DEC, DECConfig
from repro.methods.kdkmeans import KDKMeans, KDKMeansConfig
from repro.methods.kmeans import KMeans, KMeansConfig, kmeans
from repro.methods.kmedoids import KMedoids, KMedoidsConfig
from repro.methods.pqdec import (PQDEC, PhaseTimer, PQDECConfig, PQKMeansClusterer, first_batches,
                                 warm_up)
from repro.methods.pretrain import PretrainConfig, make_optimizer, pretrain_dense_autoencoder
from repro.methods.self_training import run_self_training
from repro.metrics import clustering_scores
from repro.papers._common import StageConfig
from repro.quantization import ProductQuantizer, symmetric_distances_to_centres
from repro.report.figures import plot_reported_vs_reproduced, save_png

PAPER = "pqdec"
METHODS = ("kmeans", "kmedoids", "kdkmeans", "dec", "bqdec", "pqdec")
# The modules only one method's cells run (repro.papers.cells: a change to one of them
# invalidates that method's stored cells only); DEC's cell times it after PQDEC's warm-up
METHOD_MODULES = {**{m: (f"repro.methods.{m}",) for m in METHODS},
                  "dec": ("repro.methods.dec", "repro.methods.pqdec")}
DATASETS = ("mnist-full", "mnist-test", "stl-10")
BUDGET = {"dense_pretrain.epochs": "autoencoder pretraining epochs",
          "timing_repeats": "timing repeats", "n_init": "restarts of every method"}
PHASES = ("codebook_s", "init_s", "network_s", "encode_s", "assign_s", "other_s")
INCLUDE_UNREPORTED = True
MEASUREMENT = ("time_s: wall-clock seconds of the clustering phase (10 clustering epochs, data in "
               "memory, pretraining and the Keras warm-up excluded; the same n_init restarts for "
               "every method that restarts), timed timing_repeats times, phases apart; memory_mb: peak "
               "resident memory during the clustering phase minus the resident memory just "
               "before it, MB = 2^20 bytes, sampled every 2 ms (repro.measure); storage_mb: bytes "
               "of the representation the method clusters plus its centres (no network weights)")
NOTES = {"measurement": MEASUREMENT}


@dataclass
class Config(StageConfig, paper=PAPER, datasets=DATASETS, methods=METHODS):
    """The stage's configuration; every field is set from params.yaml (section ``pqdec``)."""

    clustering_epochs: int = 10
    timing_repeats: int = 3
    n_init: int = 20
    threads: int = 2
    controls: bool = True
    control_training: bool = True
    kmeans: KMeansConfig = field(default_factory=lambda: KMeansConfig(n_init=1, tol=0.0))
    kmedoids: KMedoidsConfig = field(default_factory=KMedoidsConfig)
    kdkmeans: KDKMeansConfig = field(default_factory=lambda: KDKMeansConfig(tol=0.0))
    dense_dims: tuple[int, ...] = (500, 500, 2000, 10)
    bqdec_dims: tuple[int, ...] = (500, 500, 2000, 256)
    dropout: float = 0.2
    dense_pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    dec: DECConfig = field(default_factory=lambda: DECConfig(tol=0.0))
    bqdec: BQDECConfig = field(default_factory=lambda: BQDECConfig(tol=0.0))
    pqdec: PQDECConfig = field(default_factory=lambda: PQDECConfig(tol=0.0))
    top_images: int = 10

    def check(self) -> None:
        for name in ("clustering_epochs", "timing_repeats", "n_init", "threads"):
            if isinstance(getattr(self, name), bool) or int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")


def settings(cfg: Config, data) -> Config:
    """The settings that run on ``data``: every method capped at ``clustering_epochs``."""
    return epochs_to_settings(cfg, len(data.x))


def epochs_to_settings(cfg: Config, n: int) -> Config:
    """``cfg`` with every method set to run exactly ``clustering_epochs`` epochs on n points and
    every restarting method set to ``n_init`` restarts."""
    e, r = cfg.clustering_epochs, cfg.n_init
    steps = e * -(-n // cfg.dec.batch_size)
    return dataclasses.replace(
        cfg, kmeans=dataclasses.replace(cfg.kmeans, max_iter=e, n_init=r),
        kmedoids=dataclasses.replace(cfg.kmedoids, max_iter=e),
        kdkmeans=dataclasses.replace(cfg.kdkmeans, max_iter=e),
        dec=dataclasses.replace(cfg.dec, max_iter=steps, n_init=r),
        bqdec=dataclasses.replace(cfg.bqdec, max_epochs=e, n_init=r),
        pqdec=dataclasses.replace(cfg.pqdec, max_epochs=e, n_init=r))


# The pretrained autoencoder each deep method starts from (raw-pixel methods need none).
PRETRAINED_FOR = {"dec": "dense", "pqdec": "dense", "bqdec": "binary"}


def _k(cell) -> int:
    return int(len(np.unique(cell.data.y)))


def _pretrained(cell, need: str):
    """The pretrained autoencoder ``need`` of this dataset and seed (pretrained once,
    :meth:`Cell.shared`)."""
    return cell.shared(f"{need} autoencoder", lambda: _pretrain(cell, need))


def _pair(cell, need: str) -> dict:
    """A fresh (autoencoder, encoder) with the pretrained weights ``need``; the deep methods
    train their copy in place."""
    autoencoder, encoder = _pretrained(cell, need).build()
    return {"autoencoder": autoencoder, "encoder": encoder, "verbose": cell.cfg.verbose}


# method -> factory(cell) -> estimator with fit(x, *, seed, y=None) -> ClusteringResult
# (repro.methods.base); run_cell builds one per timed repeat (the deep methods train in place).
ESTIMATORS = {
    "kmeans": lambda cell: KMeans(_k(cell), cell.cfg.kmeans),
    "kmedoids": lambda cell: KMedoids(_k(cell), cell.cfg.kmedoids),
    "kdkmeans": lambda cell: KDKMeans(_k(cell), cell.cfg.kdkmeans),
    "dec": lambda cell: WarmDEC(_k(cell), cell.cfg.dec, verbose=cell.cfg.verbose,
                                pretrained=_pretrained(cell, "dense")),
    "bqdec": lambda cell: BQDEC(_k(cell), cell.cfg.bqdec, **_pair(cell, "binary")),
    "pqdec": lambda cell: PQDEC(_k(cell), cell.cfg.pqdec, **_pair(cell, "dense")),
}


class WarmDEC(DEC):
    """DEC (:class:`repro.methods.dec.DEC`: its model and loop) after the same untimed warm-up
    as PQDEC / BQDEC (:func:`repro.methods.pqdec.warm_up`), with its phases: ``timings`` gains
    ``warmup_s``, ``init_s`` (embedding + k-means restarts), ``network_s`` (train steps) and
    ``encode_s`` (the target updates: Q of all points, P, labels).

    ``run_self_training`` compiles the model it gets; here that compile is skipped, so that the
    traced functions survive (``warm_up`` compiled it with the same optimizer settings and
    restored the optimizer's fresh state). The network is built from the pretrained weights
    when the estimator is made, outside the measured ``fit`` (as PQDEC's and BQDEC's are in
    :data:`ESTIMATORS`): one ``fit`` per estimator.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._built = self.pretrained.build() if self.pretrained is not None else None

    def _pretrained(self, x, seed: int):
        pretrained = super()._pretrained(x, seed)
        if self._built is None:
            raise RuntimeError("WarmDEC: one fit per estimator (its network is built once)")
        built, self._built = self._built, None   # build() hands out that one copy
        return types.SimpleNamespace(build=lambda: built, seconds=pretrained.seconds,
                                     loss_history=pretrained.loss_history)

    def _self_train(self, model, x, *, seed: int, y=None):
        cfg, encoder = self.cfg, model.encoder
        keras.utils.set_random_seed(seed)
        index = np.arange(len(x), dtype=np.int32)
        batch = cfg.predict_batch_size
        warmup_s = warm_up(model, make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.momentum),
                           first_batches(x, cfg.batch_size, index)[:1],  # DEC's batches are all full
                           [lambda: encoder.predict(x, batch_size=batch, verbose=0),
                            lambda: model.predict_soft_assignments(x, batch_size=batch)])
        model.compile = lambda *args, **kwargs: None  # keep the traced functions (docstring)
        timer = PhaseTimer()
        result = run_self_training(model, x, cfg, seed=seed, y=y, verbose=self.verbose,
                                   callbacks=[timer])
        result.info.update(restarts=cfg.n_init,
                           n_epochs=result.info["n_iterations"] * cfg.batch_size / len(x))
        result.timings.update(warmup_s=warmup_s, init_s=result.info["kmeans_init_s"],
                              network_s=timer.network_s, encode_s=timer.fit_s - timer.network_s)
        return result


def phases(method: str, result) -> dict[str, float]:
    """Timed phases, epochs done, restarts, seconds per epoch and per restart of one result
    (module docstring). Seconds sum to ``time_s`` = ``timings["cluster_s"]`` (``other_s``)."""
    t, info = result.timings, result.info
    out = {name: float(t.get(name, 0.0)) for name in PHASES[:-1]}
    total = float(t["cluster_s"])
    if method == "kmeans":
        out["init_s"] = total          # sklearn's restarts each run their own iterations
        epochs, restarts = float(info["n_iter"]), int(info["n_init"])
    elif method in ("kmedoids", "kdkmeans"):
        out["init_s"] = float(t.get("tree_s", 0.0)) + float(t["init_s"])
        out["assign_s"] = total - out["init_s"]
        epochs, restarts = float(info["n_iter"]), 1
    else:
        epochs, restarts = float(info["n_epochs"]), int(info["restarts"])
    out["other_s"] = total - sum(out.values())
    loop = total - out["codebook_s"] - out["init_s"]
    out.update(epochs_done=epochs, restarts=float(restarts), restart_s=out["init_s"] / restarts,
               epoch_s=loop / epochs if method != "kmeans" and epochs > 0 else float("nan"))
    return out


def _pretrain(cell, need: str):
    """The pretrained autoencoder ``need`` ("dense" | "binary") of this dataset and seed.

    Pretraining uses dropout (paper IV.B.2: "dropout 20%"); the copies handed to the
    clustering phase are rebuilt without it (DEC drops dropout after pretraining).
    """
    cfg = cell.cfg
    dims = {"dense": cfg.dense_dims, "binary": cfg.bqdec_dims}[need]
    cell.log(f"[{PAPER}] pretraining the {need} autoencoder {dims} "
             f"({cfg.dense_pretrain.epochs} epochs, dropout {cfg.dropout})")
    pre = pretrain_dense_autoencoder(cell.data.x, cfg.dense_pretrain, seed=cell.seed, dims=dims,
                                     dropout=cfg.dropout, verbose=cfg.verbose)
    cell.log(f"[{PAPER}] {need} autoencoder: {len(pre.loss_history)} epochs "
             f"(plateau rule: < {cfg.dense_pretrain.plateau_rel_tol:.0%} over {cfg.dense_pretrain.plateau_window} epoch(s)), loss {pre.loss_history}")
    return dataclasses.replace(pre, build_kwargs={**pre.build_kwargs, "dropout": 0.0})


UNITS = {"epochs_done": "count", "restarts": "count"}


def run_cell(cell) -> None:
    """One method on one dataset and seed: ``timing_repeats`` measured clustering phases (then,
    in PQDEC's cell, the accuracy controls)."""
    cfg, x, y, method = cell.cfg, cell.data.x, cell.data.y, cell.method
    need = PRETRAINED_FOR.get(method)
    pretrained = _pretrained(cell, need) if need else None
    if pretrained is not None and method in ("pqdec", "bqdec"):  # the curve, once per autoencoder
        cell.record_history([{"iteration": e, "epoch": e, "loss": v}
                             for e, v in enumerate(pretrained.loss_history, 1)], variant="pretrain")
        cell.record("pretrain_epochs", len(pretrained.loss_history), unit="count")
    for api, n_threads in pin_threads(cfg.threads).items():
        cell.record("threads", n_threads, unit="count", variant=api)
    with threadpool_limits(limits=cfg.threads):
        for repeat in range(cfg.timing_repeats):
            cell.log(f"[{PAPER}] {method}, {cfg.clustering_epochs} clustering epochs "
                     f"(timing {repeat + 1} of {cfg.timing_repeats})")
            estimator = ESTIMATORS[method](cell)    # fresh models from the pretrained weights
            meas = measure(estimator.fit, x, seed=cell.seed, y=y)
            result = meas.result
            cell.record("time_s", float(result.timings["cluster_s"]), unit="s", repeat=repeat)
            cell.record("memory_mb", meas.peak_mb, unit="MB", repeat=repeat)
            cell.record("warmup_s", float(result.timings.get("warmup_s", 0.0)), unit="s",
                        repeat=repeat)
            for name, value in phases(method, result).items():
                if np.isfinite(value):  # no epoch_s for K-means (restarts x iterations mixed)
                    cell.record(name, value, unit=UNITS.get(name, "s"), repeat=repeat)
            if repeat == 0:
                first = result
        cell.record_clustering(first, timings=())
        cell.record("storage_mb", stored_bytes(method, first, x, cfg) / 2**20, unit="MB")
        if method == "pqdec" and cfg.controls:
            _controls(cell, pretrained)
    if (cell.dataset, method, cell.seed) == ("mnist-full", "pqdec", cfg.seeds[0]):
        cell.keep("top_images", top_images(x, first, cfg.top_images))


def pin_threads(n: int) -> dict[str, int]:
    """TensorFlow's intra- and inter-op pools set to n threads where TensorFlow has not started
    yet (it cannot change them later); the thread counts in effect ({pool: threads}, the same
    keys on every backend; BLAS / OpenMP are limited to n around the timings by threadpoolctl)."""
    cpus = os.cpu_count() or 0
    # other backends (JAX's XLA) keep their default pools: one thread per CPU
    out = {"blas": n, "cpus": cpus, "keras_intra": cpus, "keras_inter": cpus}
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        threading = tf.config.threading
        for setter in (threading.set_intra_op_parallelism_threads,
                       threading.set_inter_op_parallelism_threads):
            try:
                setter(n)
            except RuntimeError:   # already initialised: record what is in effect
                pass
        # 0 = TensorFlow's default, one thread per CPU
        out["keras_intra"] = threading.get_intra_op_parallelism_threads() or cpus
        out["keras_inter"] = threading.get_inter_op_parallelism_threads() or cpus
    return out


def _controls(cell, pretrained) -> None:
    """The accuracy controls of the module docstring, recorded as extra methods."""
    cfg, x, y, k = cell.cfg, cell.data.x, cell.data.y, _k(cell)
    cell.log(f"[{PAPER}] accuracy controls (untimed): k-means and PQ k-means on the embedding"
             + (", PQDEC from k-means++" if cfg.control_training else ""))
    _, encoder = pretrained.build()
    embedding = np.asarray(encoder.predict(x.reshape(len(x), -1), batch_size=4096, verbose=0))
    plus_cfg = dataclasses.replace(cfg.pqdec, init="k-means++")
    labels = {"kmeans-embedding": kmeans(embedding, k, seed=cell.seed, n_init=cfg.n_init).labels,
              **{name: PQKMeansClusterer(k, c).fit(embedding, seed=cell.seed).labels
                 for name, c in (("pqkmeans-random", cfg.pqdec), ("pqkmeans-kmeans++", plus_cfg))}}
    if cfg.control_training:
        autoencoder, encoder = pretrained.build()
        labels["pqdec-kmeans++init"] = PQDEC(k, plus_cfg, autoencoder=autoencoder,
                                             encoder=encoder).fit(x, seed=cell.seed, y=y).labels
    for name, value in labels.items():
        for metric, score in clustering_scores(y, value).items():
            cell.record(metric, score, unit="fraction", method=name)


def stored_bytes(method: str, result, x: np.ndarray, cfg: Config) -> int:
    """Bytes of what ``method`` clusters and keeps, plus its centres (see the module docstring).

    Raw-pixel methods: the float32 data (K-medoids' centres are indices into it); DEC: its
    float32 embedding; BQDEC / PQDEC: their codes, centre codes and (PQDEC) codebooks, as the
    method returned them.
    """
    n, d = len(x), int(np.prod(x.shape[1:]))
    k = int(result.labels.max()) + 1
    if method in ("kmeans", "kdkmeans"):
        return 4 * (n * d + k * d)
    if method == "kmedoids":
        return 4 * n * d + 8 * k
    if method == "dec":
        return 4 * (n + k) * cfg.dense_dims[-1]
    info = result.info
    return int(info["codes_nbytes"] + np.asarray(info["centres"]).nbytes
               + info.get("codebooks_nbytes", 0))


def top_images(x, result, n_top: int) -> np.ndarray | None:
    """Fig. 2: per PQDEC cluster, the ``n_top`` members whose PQ code is nearest its centre.

    Distances are PQ k-means' own symmetric distances (code to centre code, through the
    final codebooks). Returns (K, n_top, h, w, c) images (fewer members -> blank), or None.
    """
    info = result.info
    if not {"codes", "centres", "codebooks"} <= set(info):
        return None
    tables = ProductQuantizer.from_codebooks(info["codebooks"]).symmetric_distance_tables()
    dist = symmetric_distances_to_centres(tables, info["codes"], info["centres"])
    labels = result.labels
    grid = np.zeros((len(info["centres"]), n_top) + x.shape[1:], dtype=x.dtype)
    for j in range(len(info["centres"])):  # a loop over the K clusters, not over samples
        members = np.flatnonzero(labels == j)
        best = members[np.argsort(dist[members, j], kind="stable")[:n_top]]
        grid[j, :len(best)] = x[best]
    return grid


FIGURES = {"time_s": "fig3_clustering_speed", "memory_mb": "fig4_memory_consumption"}


def figures(outcome, figure_dir: Path) -> dict[str, Path]:
    """Fig. 3/4 (speed / memory per method, bars, log scale; the paper's numbers and ours on
    separate panels: other hardware, other budget) and Fig. 2 (top images)."""
    labels, out = outcome.reported.labels(), {}
    for metric, name in FIGURES.items():
        path = figure_dir / f"{name}.png"
        plot_reported_vs_reproduced(
            outcome.comparison, metric, path, x="method", labels=labels, log_y=True,
            profile=outcome.profile, own_axes=True,
            title=f"{labels.get(metric, metric)} vs clustering method: paper vs reproduced").clear()
        out[name] = path
    if not phase_table(outcome.results).empty:  # nothing timed (no data, or all cells pending): no figure
        out["fig_phases"] = _plot_phases(outcome.results, figure_dir / "fig_phases.png", labels)
    top = outcome.artifacts.get("top_images")
    if top is not None:
        out["fig2_top10_mnist-full"] = _plot_top_images(top, figure_dir / "fig2_top10_mnist-full.png")
    return out


PHASE_COLORS = {"codebook_s": "#8c564b", "init_s": "#7f7f7f", "network_s": "#1f77b4",
                "encode_s": "#ff7f0e", "assign_s": "#2ca02c", "other_s": "#d9d9d9"}


def phase_table(results) -> "pd.DataFrame":
    """Mean and std over seeds x repeats of time_s, its phases, epoch_s, restart_s, epochs_done,
    restarts, memory_mb and storage_mb, per (dataset, method) of ``METHODS``."""
    metrics = ["time_s", *PHASES, "epochs_done", "epoch_s", "restarts", "restart_s", "warmup_s",
               "memory_mb", "storage_mb"]
    rows = results[results["method"].isin(METHODS) & results["metric"].isin(metrics)
                   & (results["variant"].fillna("") == "")]
    table = rows.groupby(["dataset", "method", "metric"], sort=False)["value"].agg(["mean", "std"])
    table = table.unstack("metric")
    return table.reindex(columns=[(stat, m) for m in metrics for stat in ("mean", "std")
                                  if (stat, m) in table.columns])


def _plot_phases(results, path: Path, labels: dict) -> Path:
    """Per dataset: the clustering seconds of every method split into its phases (stacked means;
    error bar = std of time_s over seeds x repeats), and below the seconds per epoch (error bar:
    its std) with the epochs each method ran written on the bar."""
    import matplotlib.pyplot as plt

    table = phase_table(results)
    datasets = list(dict.fromkeys(table.index.get_level_values("dataset")))
    fig, axes = plt.subplots(2, len(datasets), figsize=(5.5 * len(datasets), 7.5), squeeze=False)
    for j, dataset in enumerate(datasets):
        part = table.xs(dataset, level="dataset")
        part = part.reindex([m for m in METHODS if m in part.index])
        xs = np.arange(len(part))
        names = [labels.get(m, m) for m in part.index]
        bottom = np.zeros(len(part))
        ax = axes[0, j]
        for phase in PHASES:
            if ("mean", phase) not in part.columns:
                continue
            values = np.nan_to_num(part[("mean", phase)].to_numpy(float))
            ax.bar(xs, values, bottom=bottom, color=PHASE_COLORS[phase], label=phase[:-2])
            bottom += values
        ax.errorbar(xs, part[("mean", "time_s")], yerr=part[("std", "time_s")].fillna(0.0),
                    fmt="none", ecolor="black", capsize=4, label="std over repeats")
        ax.set_xticks(xs, names, rotation=30, ha="right")
        ax.set_ylabel("clustering seconds (timed region)")
        ax.set_title(f"{labels.get(dataset, dataset)}: time per phase")
        ax = axes[1, j]
        if ("mean", "epoch_s") in part.columns:
            ax.bar(xs, part[("mean", "epoch_s")].fillna(0.0), color="#9467bd",
                   yerr=part[("std", "epoch_s")].fillna(0.0), capsize=4)
            for x, (ep, val) in enumerate(zip(part[("mean", "epochs_done")],
                                              part[("mean", "epoch_s")])):
                ax.annotate("n/a" if not np.isfinite(val) else f"{ep:.3g} ep", (x, 0),
                            xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
        ax.set_xticks(xs, names, rotation=30, ha="right")
        ax.set_ylabel("seconds per epoch (after initialisation)")
        ax.set_title(f"{labels.get(dataset, dataset)}: cost per epoch (epochs run on the bar)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Clustering time per phase and per epoch (this run)")
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)
    return path


def _plot_top_images(grid: np.ndarray, path: Path) -> Path:
    """Fig. 2: one row per PQDEC cluster, its top images left to right."""
    import matplotlib.pyplot as plt

    n_clusters, n_top = grid.shape[:2]
    fig, axes = plt.subplots(n_clusters, n_top, figsize=(n_top * 0.8, n_clusters * 0.8), squeeze=False)
    for (j, i), ax in np.ndenumerate(axes):
        ax.imshow(grid[j, i].squeeze(), cmap="gray" if grid.shape[-1] == 1 else None)
        ax.set_xticks([]), ax.set_yticks([])
        if i == 0:
            ax.set_ylabel(f"{j}", rotation=0, labelpad=10)
    fig.suptitle("Top 10 images of each PQDEC cluster, MNIST-full (nearest PQ codes to the centre)")
    save_png(fig, path)
    plt.close(fig)
    return path
