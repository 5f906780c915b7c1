"""UCNN (Hsu & Lin, ICIP 2017): NMI (Table I), run time and memory (Table II) of UCNN and its
six comparisons, and how each method's cost grows with the set size (the paper's central
claim, measured here as a curve).

**Roles.** The paper pretrains its network on ILSVRC12-train and clusters ILSVRC-Val (the
pretraining classes, unseen images), Places-Val (new classes) and Places-Train (new classes,
1.6 M images). Stand-ins with the same roles, labelled as such beside every number:

- the network is pretrained supervised on MNIST-train digits 0-4: by default the whole UCNN
  up to FC9 (``pretrain_scope: adaptation``; conv8 with k maps), as the paper's ImageNet
  model [15] is one network trained as a whole;
- ``mnist-test-04`` (MNIST-test digits 0-4: the pretraining classes, unseen images) for
  ILSVRC-Val, ``mnist-test-59`` (MNIST-test 5-9: new classes) for Places-Val and
  ``mnist-train-59`` (MNIST-train 5-9: new classes, the larger set) for Places-Train;
  k = the number of classes of each set (5);
- each set's own conv8 and FC9 (``set_layers``, per_dataset): the paper sets conv8's channels
  and the softmax's neurons to each set's k (365 on Places, 1000 on ILSVRC, Sec. 3.1), so on
  the sets of new classes (mnist-test-59, mnist-train-59; places-val, places-train) conv8 (k
  maps) and FC9 start from the seeded random initialisation, the layers below them
  pretrained; their features no longer pass through the maps of the pretraining classes.
  Eq. 1 trains FC9 and the softmax; Baselines II-III cluster the FC9 features of the same
  untuned network. The pretraining classes' sets keep the pretrained conv8, as ILSVRC-Val
  keeps ImageNet's 1000 maps.

On the paper's own sets (the ``paper`` profile, where ILSVRC12 / Places are present) the
network's ImageNet initialisation is keras.applications VGG16's conv blocks with their ImageNet
weights as conv1-conv5 (``net.trunk: vgg16-imagenet``; AlexNet is not in keras.applications: a
stated difference), frozen, with conv6-FC9 pretrained supervised on ImageNet-train (100 images
per class) on top; offline without the weights file, a clear error names it.

**JULE's check.** CNN-RC is JULE (Yang et al., CVPR 2016), whose own paper reports NMI on data
we do have: MNIST (all 70000 digits) and USPS. On ``mnist-full`` and ``usps`` (real data, not
stand-ins; only ``cnn_rc`` runs there, ``per_dataset``) the stage compares our JULE with
JULE-RC's published NMI (the ``jule_check`` table of ``ucnn.yaml``, from
``shared/papers/wave2_facts.md``) under the stage's NMI tolerance. Our USPS is the 9298-digit
version (data/README.md); which version JULE used is not stated in what we have.

**Methods** (``ESTIMATORS``, one clusterer each; its readings are in its module docstring):
``ucnn`` / ``baseline_1`` (:class:`repro.methods.ucnn.UCNN` with / without Eq. 4-5's drift
compensation), ``baseline_2`` / ``baseline_3`` (the pretrained features + mini-batch k-means,
streamed / full-set k-means), ``dec`` (:class:`DenseDEC`), ``cnn_cm``
(:class:`repro.methods.cnn_cm.CNNCM`) and ``cnn_rc`` = JULE (:class:`repro.methods.jule.JULE`).

**Measurements.** Per (set, method, seed): ``nmi`` with the labels (:func:`repro.metrics.nmi`,
geometric normalisation), ``time`` (wall-clock seconds of the whole method: pretraining of its
own model, clustering, the final assignment) and ``memory`` (peak RSS above the baseline while
it runs, MB: the method's working memory; the loaded set itself is in the baseline, for every
method), both by :mod:`repro.measure` -- one definition for numpy, faiss, scikit-learn and
Keras code; before each measured call the C heap's free pages go back to the system
(``malloc_trim``), so the peak counts the call's own allocations, not what the allocator kept
cached from an earlier call -- and ``cpu_time`` (the process's CPU seconds in the same call:
a shared machine's load inflates the wall time, not this). Baseline-I's cells also record
the size of Eq. 4-5's correction along their run (``feature_drift``, ``centroid_gap``,
``assignment_flips``: :class:`repro.methods.ucnn.UCNN`). The shared supervised pretraining
of the UCNN (``pretrain_scope``, see Roles) is timed once (``shared: pretrained network``)
and counted in no method, as the paper's ImageNet model is not part of its Table II. It is
one network, pretrained with seed ``pretrain_seed``, for every seed and set of a run (the
paper starts from one ImageNet model): the seeds vary the initial centroids, the mini-batch
order, the softmax layer's initialisation and the other methods' own training. On
``scale.dataset`` (the Places-Train stand-in), the first seed also measures the **scale
curve**: each method's time and peak memory at growing set sizes N (``scale_time`` /
``scale_memory``, variant = N) on derived data -- a stream of elastically and affinely
deformed copies of the set's real digits (:mod:`repro.data.deformations`); the full-set
methods hold the N deformed images (generated before the measured call; their bytes are
added to the method's peak, since it must hold them), the mini-batch methods draw them
batch by batch inside the call. A method stops at the first size whose memory or time,
extrapolated from its last two measured sizes (a power law), exceeds
``scale.memory_budget_mb`` or ``scale.time_budget_s``: that size is recorded as
``scale_projected_memory`` / ``scale_projected_time`` (labelled as extrapolations) and not
run. From the curve:
``memory_growth`` (peak memory at the largest run size / at the smallest) and
``time_exponent`` (slope of log time against log N between the two largest run sizes:
"proportional to the size" is a statement about large sets, where the fixed costs of a run --
building and tracing the network, the first k-means restart -- no longer dominate; the
curve itself shows every size).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from repro.data.deformations import DeformConfig
from repro.methods.cnn_cm import CNNCM, CNNCMConfig
from repro.methods.dec import DECConfig
from repro.methods.jule import JULE, JULEConfig
from repro.methods.pretrain import PretrainConfig as DensePretrainConfig
from repro.methods.ucnn import (UCNN, BaselineFullKMeans, BaselineMiniBatchKMeans,
                               FullKMeansConfig, MiniBatchKMeansConfig, UCNNConfig)
from repro.models.ucnn_net import PRETRAIN_SCOPES, PretrainConfig, UCNNNetConfig
from repro.papers._common import StageConfig

PAPER = "ucnn"
METHODS = ("dec", "cnn_cm", "cnn_rc", "baseline_1", "baseline_2", "baseline_3", "ucnn")
MINI_BATCH = ("baseline_1", "baseline_2", "ucnn")
DATASETS = ("ilsvrc-val", "places-val", "places-train", "mnist-test-04", "mnist-test-59",
            "mnist-train-59", "mnist-full", "usps")
JULE_CHECK = ("mnist-full", "usps")   # JULE's own sets (module docstring): only cnn_rc
NEEDS_TRUNK = ("baseline_1", "baseline_2", "baseline_3", "ucnn")
SET_LAYERS = ("conv6", "conv7", "conv8", "fc9")
DRIFT_METRICS = ("feature_drift", "centroid_gap", "assignment_flips")
BUDGET = {"ucnn.epochs": "UCNN / Baseline-I / II epochs", "subset": "images per set (0 = all)",
          "pretrain.epochs": "trunk pretraining epochs", "jule.max_epochs": "JULE epochs (cap)",
          "dense_pretrain.epochs": "DEC autoencoder epochs", "dec.max_iter": "DEC iterations (cap)",
          "net.adaptation_widths": "conv6 / conv7 channels", "net.fc9_width": "FC9 width",
          "scale.max_size": "largest scale N"}
INCLUDE_UNREPORTED = True
NOTES = {
    "stand_ins": "network pretrained on MNIST-train 0-4; mnist-test-04 / mnist-test-59 / "
                 "mnist-train-59 stand in for ILSVRC-Val / Places-Val / Places-Train; the "
                 "new-class sets get their own conv8 (k maps) and FC9 (set_layers)",
    "measurement": "time: wall-clock seconds of each method's whole run (cpu_time: its process "
                   "CPU seconds); memory: peak RSS above the baseline while it runs "
                   "(repro.measure, MB), after malloc_trim; the shared trunk pretraining is "
                   "timed once and counted in no method",
    "jule_check": "CNN-RC (our JULE) against JULE's own published NMI on JULE's sets, the real "
                  "MNIST (70000) and USPS (9298 here): table jule_check; only cnn_rc runs on "
                  "them, with JULE's whole schedule on the paper profile (smoke: a tiny code "
                  "check; MNIST: hours a seed on a 2-core CPU, benchmarks/bench_steps.py; "
                  "USPS does not fit the quick profile's budget)",
    "scale_curve": "deformed copies of the real digits (repro.data.deformations, derived data); "
                   "scale_projected_memory cells are extrapolations (a power law through the "
                   "last two measured sizes), not measurements"}
# The paper sets as read here (64 x 64 decoded JPEGs; Places-Train 1000 images per class:
# 1.8 M images as one array would need ~90 GB of float32 -- a stated difference)
PAPER_DATA = {"image_size": 64}
PLACES_TRAIN_PER_CLASS = 1000


@dataclass
class Scale:
    """The scale curve on ``dataset`` (first seed): set sizes ``sizes`` (up to ``max_size``),
    ``epochs`` passes of the mini-batch methods at each size; a method stops at the first size
    whose memory (MB) or time (s), extrapolated from its last two sizes, exceeds the budget."""

    dataset: str = "mnist-train-59"
    methods: tuple[str, ...] = METHODS
    sizes: tuple[int, ...] = (1000, 10000, 100000, 1000000)
    max_size: int = 1000000
    epochs: int = 1
    memory_budget_mb: float = 8192.0
    time_budget_s: float = 36000.0

    def __post_init__(self):
        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown:
            raise ValueError(f"scale.methods: unknown {unknown}; known: {list(METHODS)}")
        if self.dataset not in DATASETS:
            raise ValueError(f"scale.dataset: unknown {self.dataset!r}; known: {list(DATASETS)}")
        if not self.sizes or min(self.sizes) < 10 or list(self.sizes) != sorted(self.sizes):
            raise ValueError(f"scale.sizes must be increasing sizes >= 10, got {self.sizes}")
        if self.epochs < 1 or self.memory_budget_mb <= 0 or self.time_budget_s <= 0:
            raise ValueError("scale: epochs >= 1, memory_budget_mb > 0 and time_budget_s > 0 needed")


@dataclass
class Config(StageConfig, paper=PAPER, datasets=DATASETS, methods=METHODS):
    """The stage's configuration; every field is set from params.yaml (section ``ucnn``)."""

    subset: int = 0                  # > 0: the first N images of each set (a seeded order)
    pretrain_images: int = 0         # > 0: the first N pretraining images
    # "adaptation": the whole UCNN up to FC9 pretrained; "trunk": conv1-conv5 only (Roles)
    pretrain_scope: str = "adaptation"
    pretrain_seed: int = 0           # one pretrained network for every seed (the paper: one model)
    set_layers: tuple[str, ...] = ()  # the set's own layers, seeded random (Roles: Sec. 3.1)
    net: UCNNNetConfig = field(default_factory=UCNNNetConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    ucnn: UCNNConfig = field(default_factory=UCNNConfig)
    minibatch: MiniBatchKMeansConfig = field(default_factory=MiniBatchKMeansConfig)
    fullset: FullKMeansConfig = field(default_factory=FullKMeansConfig)
    dense_dims: tuple[int, ...] = (500, 500, 2000, 10)
    dense_pretrain: DensePretrainConfig = field(default_factory=DensePretrainConfig)
    dec: DECConfig = field(default_factory=DECConfig)
    cnn_cm: CNNCMConfig = field(default_factory=CNNCMConfig)
    jule: JULEConfig = field(default_factory=JULEConfig)
    scale: Scale = field(default_factory=Scale)
    deform: DeformConfig = field(default_factory=DeformConfig)

    def check(self) -> None:
        if self.subset < 0 or self.pretrain_images < 0:
            raise ValueError("subset and pretrain_images must be >= 0")
        unknown = sorted(set(self.set_layers) - set(SET_LAYERS))
        if unknown:
            raise ValueError(f"set_layers: unknown {unknown}; known: {list(SET_LAYERS)}")
        if self.pretrain_scope not in PRETRAIN_SCOPES:
            raise ValueError(f"pretrain_scope: unknown {self.pretrain_scope!r}; known: "
                             f"{', '.join(PRETRAIN_SCOPES)}")
        # (a config for_dataset derives has no per_dataset: run_cell guards those)
        for dataset in (set(JULE_CHECK) & set(self.datasets) if self.per_dataset else ()):
            _check_jule_methods(dataset, self.for_dataset(dataset).methods)


def _check_jule_methods(dataset: str, methods) -> None:
    extra = sorted(set(methods) - {"cnn_rc"})
    if extra:
        raise ValueError(f"{dataset} is the JULE check's set: only cnn_rc runs on it "
                         f"(per_dataset.{dataset}.methods: [cnn_rc]), not {extra}")


# ---------------------------------------------------------------------------------- data
DIGITS = ("mnist-test-04", "mnist-test-59", "mnist-train-59")   # derived (repro.data.derived)
PAPER_SETS = {"ilsvrc-val": ("imagenet", "val", 0), "places-val": ("places365", "val", 0),
              "places-train": ("places365", "train", PLACES_TRAIN_PER_CLASS)}


def load_data(name: str):
    """A set to cluster, images in [0, 1]: the stand-ins derived from real MNIST and the JULE
    check's real MNIST and USPS through :func:`repro.data.load`, the paper's sets from their
    official files."""
    if name not in PAPER_SETS:
        from repro.data import load

        return load(name)
    from repro.data import imagenet, places

    source, split, per_class = PAPER_SETS[name]
    read = imagenet.load if source == "imagenet" else places.load_places365
    return read(split=split, per_class=per_class, **PAPER_DATA).scaled()


def _pretraining_set(cfg, dataset: str):
    """The network's labelled pretraining images: MNIST-train digits 0-4 (stand-ins) or
    ImageNet-train, 100 images per class (the paper's sets, where the trunk is VGG16 with its
    ImageNet weights, frozen, and these images train conv6-FC9 on top of it)."""
    if dataset in DIGITS:
        from repro.data import load

        data = load("mnist-train-04")
    else:
        from repro.data import imagenet

        data = imagenet.load(split="train", per_class=100, **PAPER_DATA).scaled()
    x, y = data.x, data.y
    n = cfg.pretrain_images
    return (x[:n], y[:n]) if n else (x, y)


def _subset(cell):
    """The set, or its first ``subset`` images in a fixed seeded order (seed 0: every seed
    and method clusters the same images)."""
    x, y = cell.data.x, np.asarray(cell.data.y)
    n = cell.cfg.subset
    if n and n < len(x):
        order = np.sort(np.random.default_rng(0).permutation(len(x))[:n])
        return x[order], y[order]
    return x, y


# ------------------------------------------------------------------------------- methods
def _trunk(cell, k: int):
    """The supervised pretrained network (``pretrain_scope``: conv1-FC9 with conv8's k maps,
    or conv1-conv5), pretrained once with ``pretrain_seed`` and shared by every seed and set
    of a run with that k (``shared: pretrained network``)."""
    cfg = cell.cfg
    source = "mnist" if cell.dataset in DIGITS else "imagenet"
    key = (repr((cfg.net, cfg.pretrain, cfg.pretrain_images, cfg.pretrain_scope)),
           cfg.pretrain_seed, source, k)
    return cell.shared("pretrained network", lambda: _pretrain(cell, source, k), scope="run",
                       key=key)


def _pretrain(cell, source: str, k: int):
    from repro.models.ucnn_net import pretrain_supervised

    cfg = cell.cfg
    x, y = _pretraining_set(cfg, cell.dataset)
    layers = "conv1-FC9" if cfg.pretrain_scope == "adaptation" else "conv1-conv5"
    cell.log(f"[{PAPER}] pretraining {layers} supervised on {len(x)} {source} images "
             f"({cfg.pretrain.epochs} epochs)")
    return pretrain_supervised(x, y, cfg.net, cfg.pretrain, seed=cfg.pretrain_seed,
                               scope=cfg.pretrain_scope, k=k, verbose=cfg.verbose)


class DenseDEC:
    """DEC as this stage runs it (a :class:`repro.methods.base.Clusterer`): its own dense
    autoencoder (``dims``), pretrained on the set with the fit's seed
    (:func:`repro.methods.pretrain.pretrain_dense_autoencoder`, inside the measured call: the
    method's own model), then DEC's clustering phase (:class:`repro.methods.dec.DEC`)."""

    def __init__(self, n_clusters: int, dec_cfg, pretrain_cfg, dims, *, verbose: int = 0):
        self.n_clusters, self.dec_cfg, self.pretrain_cfg = n_clusters, dec_cfg, pretrain_cfg
        self.dims, self.verbose = tuple(dims), verbose

    def fit(self, x, *, seed: int, y=None):
        from repro.methods.base import check_inputs
        from repro.methods.dec import DEC
        from repro.methods.pretrain import pretrain_dense_autoencoder

        check_inputs(x, self.n_clusters, y)          # before the autoencoder trains on it
        dense = pretrain_dense_autoencoder(x, self.pretrain_cfg, seed=seed, dims=self.dims,
                                           verbose=self.verbose)
        return DEC(self.n_clusters, self.dec_cfg, pretrained=dense,
                   verbose=self.verbose).fit(x, seed=seed, y=y)


def _schedule(settings, epochs, **changes):
    """The mini-batch methods' settings, with the scale curve's ``epochs`` (None: theirs)."""
    return dataclasses.replace(settings, epochs=epochs or settings.epochs, **changes)


def _on_trunk(method, settings):
    """A factory of a method on the shared pretrained UCNN (``NEEDS_TRUNK``)."""
    return lambda cell, k, trunk, epochs=None: method(
        k, settings(cell.cfg, epochs), cell.cfg.net, pretrained=trunk, verbose=cell.cfg.verbose,
        log=cell.log)


# The methods: ``factory(cell, k, trunk, epochs=None) -> Clusterer`` (repro.methods.base), k =
# the set's classes, trunk = the shared pretrained weights (NEEDS_TRUNK, else None), epochs =
# the scale curve's passes of the mini-batch methods (None: the settings'). The stage keeps its
# own run_cell: each fit is measured and the scale curve fits the same methods on other data.
ESTIMATORS = {
    "ucnn": _on_trunk(UCNN, lambda cfg, e: _schedule(cfg.ucnn, e, compensate=True)),
    "baseline_1": _on_trunk(UCNN, lambda cfg, e: _schedule(cfg.ucnn, e, compensate=False)),
    "baseline_2": _on_trunk(BaselineMiniBatchKMeans, lambda cfg, e: _schedule(cfg.minibatch, e)),
    "baseline_3": _on_trunk(BaselineFullKMeans, lambda cfg, e: cfg.fullset),
    "dec": lambda cell, k, trunk, epochs=None: DenseDEC(
        k, cell.cfg.dec, cell.cfg.dense_pretrain, cell.cfg.dense_dims, verbose=cell.cfg.verbose),
    "cnn_cm": lambda cell, k, trunk, epochs=None: CNNCM(
        k, cell.cfg.cnn_cm, verbose=cell.cfg.verbose, log=cell.log),
    "cnn_rc": lambda cell, k, trunk, epochs=None: JULE(
        k, cell.cfg.jule, verbose=cell.cfg.verbose, log=cell.log),
}


def run_cell(cell) -> None:
    """One method on one set and seed: NMI, time, memory (and, on the scale set, the curve)."""
    from repro.metrics import nmi

    if cell.dataset in JULE_CHECK:
        _check_jule_methods(cell.dataset, [cell.method])
    x, y = _subset(cell)
    k = int(np.unique(y).size)
    trunk = _set_trunk(_trunk(cell, k), cell.cfg) if cell.method in NEEDS_TRUNK else None
    cell.log(f"[{PAPER}] {cell.dataset}: {cell.method} on {len(x)} images, k = {k}")
    estimator = ESTIMATORS[cell.method](cell, k, trunk)
    meas, cpu_s = _measure(estimator.fit, x, seed=cell.seed, y=y)   # labels only score
    result = meas.result
    cell.record("nmi", nmi(y, result.labels), unit="fraction")
    cell.record("time", meas.seconds, unit="s")
    cell.record("cpu_time", cpu_s, unit="s")
    cell.record("memory", meas.peak_mb, unit="MB")
    for metric in DRIFT_METRICS:          # Baseline-I: the correction UCNN would have made
        if metric in result.info:
            cell.record(metric, result.info[metric], unit="fraction")
    # one numeric row per logged step, numbered (JULE logs its initial and final stages at the
    # same SGD count, and names them: text columns are left out); the method's own count is
    # kept as "sgd_updates"
    cell.record_history([{**{k_: v for k_, v in row.items()
                             if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)},
                          "sgd_updates": row.get("iteration"), "iteration": i}
                         for i, row in enumerate(result.history)])
    scale = cell.cfg.scale
    if cell.dataset == scale.dataset and cell.seed == cell.cfg.seeds[0] and cell.method in scale.methods:
        _scale_curve(cell, x, y, k, trunk)


def _set_trunk(trunk, cfg):
    """The pretrained weights without the set's own layers (``cfg.set_layers``: they keep the
    seeded random initialisation of the set's UCNN)."""
    if not cfg.set_layers:
        return trunk
    from repro.models.ucnn_net import PretrainedTrunk

    weights = trunk.weights if isinstance(trunk, PretrainedTrunk) else trunk
    return {name: w for name, w in weights.items() if name not in cfg.set_layers}


def _measure(fn, *args, **kwargs):
    """``repro.measure.measure`` of the call, plus the process's CPU seconds during it (user +
    system, all threads). Before it: gc, then glibc's ``malloc_trim(0)`` (a no-op where the C
    library has none), for the reason given in the module docstring."""
    import ctypes
    import ctypes.util
    import gc

    import psutil

    from repro.measure import measure

    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    process = psutil.Process()
    before = process.cpu_times()
    meas = measure(fn, *args, **kwargs)
    after = process.cpu_times()
    return meas, (after.user - before.user) + (after.system - before.system)


def _scale_curve(cell, x, y, k: int, trunk) -> None:
    """Time and peak memory of ``cell.method`` at each scale size (see the module docstring)."""

    cfg, method = cell.cfg, cell.method
    sizes = [n for n in cfg.scale.sizes if n <= cfg.scale.max_size]
    measured: list[tuple[int, float, float]] = []
    for n in sizes:
        if len(measured) >= 2:
            memory, seconds = _projected(measured, n, 2), _projected(measured, n, 1)
            if memory > cfg.scale.memory_budget_mb or seconds > cfg.scale.time_budget_s:
                cell.log(f"[{PAPER}] scale: {method} stops before N = {n} (projected "
                         f"{memory:.0f} MB, {seconds:.0f} s; budgets "
                         f"{cfg.scale.memory_budget_mb:.0f} MB, {cfg.scale.time_budget_s:.0f} s)")
                cell.record("scale_projected_memory", memory, unit="MB", variant=str(n))
                cell.record("scale_projected_time", seconds, unit="s", variant=str(n))
                break
        cell.log(f"[{PAPER}] scale: {method} on N = {n} deformed digits")
        if method in MINI_BATCH:
            source = _deformed_source(x, n, cell.seed, cfg.deform)
            estimator = ESTIMATORS[method](cell, k, trunk, epochs=cfg.scale.epochs)
            meas, _ = _measure(estimator.fit, source, seed=cell.seed)
            held_mb = 0.0
        else:   # the whole set, generated before the measured call and held by the method
            images = _deformed_images(x, y, n, cell.seed, cfg.deform)
            meas, _ = _measure(ESTIMATORS[method](cell, k, trunk).fit, images, seed=cell.seed)
            held_mb = images.nbytes / 2**20
            del images
        cell.record("scale_time", meas.seconds, unit="s", variant=str(n))
        cell.record("scale_memory", meas.peak_mb + held_mb, unit="MB", variant=str(n))
        measured.append((n, meas.seconds, meas.peak_mb + held_mb))
    if len(measured) >= 2:
        first, last = measured[0][2], measured[-1][2]
        cell.record("memory_growth", max(last, 1.0) / max(first, 1.0), unit="x")
        (n0, t0, _), (n1, t1, _) = measured[-2:]
        cell.record("time_exponent", float(np.log(max(t1, 1e-6) / max(t0, 1e-6)) / np.log(n1 / n0)),
                    unit="x")


def _projected(measured, n: int, column: int) -> float:
    """A power law through the last two measured (N, seconds, peak MB) -- ``column`` 1: time,
    2: memory (floored at 1 MB / 1 ms) -- evaluated at ``n`` (never decreasing)."""
    floor = 1.0 if column == 2 else 1e-3
    (n0, v0), (n1, v1) = ((row[0], max(row[column], floor)) for row in measured[-2:])
    slope = np.log(v1 / v0) / np.log(n1 / n0)
    return float(v1 * (n / n1) ** max(slope, 0.0))


def _deformed_images(x, y, n: int, seed: int, deform_cfg, batch_size: int = 1024) -> np.ndarray:
    """The first ``n`` images of the deformation stream of ``x`` as one float32 array, made
    ``batch_size`` images at a time (the stream's images do not depend on its batch size), so
    that the deformation's float64 intermediates exist for one batch only, not for all n."""
    from repro.data.deformations import DeformationStream

    stream = DeformationStream(x, y, n, batch_size, seed, deform_cfg)
    images = np.empty((n, *x.shape[1:]), dtype=np.float32)
    for index in range(len(stream)):
        batch, _ = stream.batch(index)
        start = index * batch_size
        images[start:start + len(batch)] = batch
    return images


def _deformed_source(x, n: int, seed: int, deform_cfg):
    """An ImageSource of ``n`` deformed digits, generated batch by batch: image i is a
    deformation of ``x[i % len(x)]`` drawn for the batch that fetches it (infinite-MNIST
    style: each pass sees fresh deformations; memory independent of ``n``)."""
    from repro.data.deformations import deform
    from repro.methods.ucnn import ImageSource

    def fetch(indices):
        indices = np.asarray(indices, dtype=np.int64)
        rng = np.random.default_rng((seed, int(indices[0]) if len(indices) else 0, len(indices)))
        return deform(x[indices % len(x)], rng, deform_cfg)

    return ImageSource(fetch, n, tuple(x.shape[1:]))


# ------------------------------------------------------------------------------- figures
def figures(outcome, figure_dir: Path) -> dict[str, Path]:
    """Table I / II as bars (per set), JULE's check (CNN-RC against JULE's published NMI on
    its own sets) and the scale curve (time and memory against N). Run time and memory:
    the paper's hours / GB and our seconds / MB on separate panels. A paper set with a
    stand-in that ran is shown once, as the stand-in (its bars carry the paper's number)."""
    from repro.report.figures import plot_reported_vs_reproduced

    labels, out = outcome.reported.labels(), {}
    comparison = _with_stand_ins_only(outcome.comparison, outcome.reported.stand_ins)
    jule = comparison["dataset"].isin(JULE_CHECK)
    for metric, name, rows, title, size, own in (
            ("nmi", "table1_nmi", comparison[~jule], None, None, None),
            ("time", "table2_time", comparison[~jule], None, None, "s"),
            ("memory", "table2_memory", comparison[~jule], None, None, "MB"),
            ("nmi", "jule_check_nmi", comparison[jule], "Our JULE vs JULE's published NMI",
             (8.0, 4.8), None)):
        part = rows[rows["metric"] == metric]
        if len(part) and part["n_seeds"].max() > 0:
            path = figure_dir / f"{name}.png"
            plot_reported_vs_reproduced(
                rows, metric, path, labels=labels, profile=outcome.profile, figsize=size,
                own_axes=own is not None, reproduced_unit=own,
                title=title or f"{labels.get(metric, metric)}: paper vs reproduced").clear()
            out[name] = path
    results = outcome.results
    scale = results[results["metric"].str.startswith("scale_")] if len(results) else results
    if len(scale):
        out["scale_curve"] = _plot_scale(scale, labels, outcome, figure_dir)
    return out


def _with_stand_ins_only(comparison, stand_ins):
    """``comparison`` without the rows of a paper dataset whose stand-in has a reproduced
    number (the stand-in's rows carry the paper's number beside ours)."""
    ran = set(comparison.loc[comparison["reproduced_mean"].notna(), "dataset"])
    covered = {paper for stand_in, paper in stand_ins.items() if stand_in in ran}
    keep = ~comparison["dataset"].isin(covered) | comparison["reproduced_mean"].notna()
    return comparison[keep]


def _plot_scale(scale, labels, outcome, figure_dir) -> Path:
    import matplotlib.pyplot as plt

    from repro.report.figures import save_png
    from repro.report.palette import method_color

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 5.0))
    for method in (m for m in METHODS if m in set(scale["method"])):
        part = scale[scale["method"] == method]
        color = method_color(method)
        for ax, metric in ((ax_t, "scale_time"), (ax_m, "scale_memory")):
            rows = part[part["metric"] == metric]
            n = rows["variant"].astype(int).to_numpy()
            order = np.argsort(n)
            ax.plot(n[order], rows["value"].to_numpy()[order], marker="o", color=color,
                    linestyle="-" if method in MINI_BATCH else "--", label=labels.get(method, method))
        for ax, metric in ((ax_t, "scale_projected_time"), (ax_m, "scale_projected_memory")):
            stop = part[part["metric"] == metric]
            if len(stop):
                ax.plot(stop["variant"].astype(int), stop["value"], marker="x", markersize=10,
                        color=color, linestyle="none")
    if outcome.cfg is not None:   # the budgets a run is projected against before it starts
        scale_cfg = outcome.cfg.scale
        ax_t.axhline(scale_cfg.time_budget_s, color="gray", linestyle=":",
                     label=f"budgets per run ({scale_cfg.time_budget_s:.0f} s, "
                           f"{scale_cfg.memory_budget_mb:.0f} MB)")
        ax_m.axhline(scale_cfg.memory_budget_mb, color="gray", linestyle=":")
    for ax, ylabel in ((ax_t, "run time (s)"), (ax_m, "peak memory above baseline (MB)")):
        ax.set(xscale="log", yscale="log", xlabel="set size N (deformed digits)", ylabel=ylabel)
        ax.grid(alpha=0.3)
    handles, names = ax_t.get_legend_handles_labels()   # below the panels: no data hidden
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=8, frameon=False,
               title="solid: mini-batch methods, dashed: full-set; x: projected stop (not run)",
               title_fontsize=8)
    fig.suptitle(f"Cost against the set size [{outcome.profile} profile, first seed]")
    fig.subplots_adjust(bottom=0.24, top=0.9, wspace=0.25)
    path = figure_dir / "scale_curve.png"
    save_png(fig, path)
    plt.close(fig)
    return path
