"""DeepCluster (Caron, Bojanowski, Joulin, Douze, ECCV 2018): Table 1 (linear probes on the
frozen conv1..conv5 of each network, an in-domain and a transfer column), Fig. 2 (NMI with
the labels and between consecutive epochs over training; the downstream score against k).

**Roles.** The paper trains on ImageNet without labels and probes ImageNet (in-domain column)
and Places205 (transfer column). Each dataset of this stage is a *column*: the network trains
on the column's ``source`` (its own training split, or another dataset's) and the probes
train on the column's training split and score on its test split:

==============  ========================  =============================================
column          networks trained on       probes: train / test
==============  ========================  =============================================
imagenet        ImageNet train            ImageNet train / val        (paper data)
places205       ImageNet train            Places205 train / val       (paper data)
mnist-full      MNIST train (stand-in)    MNIST train / test          ("ImageNet" column)
usps            MNIST train (stand-in)    USPS train / test           ("Places" column)
==============  ========================  =============================================

Rows (methods): ``imagenet_labels`` -- the network trained supervised on the source's labels
(on the stand-in: MNIST labels); ``places_labels`` -- supervised on the column's own training
labels, transfer columns only (stand-in: USPS labels); ``random`` -- the untrained network;
``deepcluster``. The other methods of the paper's table (Pathak et al., ...) are other papers'
methods: shown with their printed numbers, not run. A network depends on (source, method,
seed) only, so both columns of a run share it: trained once (``shared: <method> network``, in
the runner's run scope), its training history recorded on the column it trained on.

**Probes.** :mod:`repro.methods.linear_probe`, as the authors' eval_linear.py trains them. On
the digit stand-ins, probes trained on every labelled image saturate (random features within a
few points of supervised ones, issue 25); there they train on ``probe.shots`` labelled images
per class (params.yaml: 10, MNIST's classic 100-label setting), drawn per seed from the
training split before any result is seen, the same draw for every row, and repeated to the
split's size so that an epoch takes as many SGD steps as a full-data epoch.

**Fig. 2.** (a) ``nmi_labels``: NMI between each epoch's clusters of the source's training
images and their labels; (b) ``nmi_epochs``: NMI between the assignments of epochs t-1 and t;
recorded per epoch (histories) and as the first and last epoch's values. (c) ``downstream``
against k: the paper fine-tunes on Pascal VOC; here the transfer column's linear-probe top-1
at ``ablation.layer`` (USPS, the stand-in's transfer task) of networks trained with
k = ``ablation.k_over_classes`` x the source's classes, first seed only, ``ablation.epochs``
epochs; variant = k / classes (the paper's k = 100 ... 100k over 1000 classes: 0.1 ... 100).
The figure draws the paper's mAP and our top-1 on separate panels, one quantity per axis.

Derived numbers the claims need, recorded as claim-only metrics (the paper prints none):
``nmi_epochs_gain`` = the rise of nmi_epochs over the first half (variant ``first``) and the
second half (``last``) of training. A cell reads no other cell's results: the gaps between
rows (imagenet_labels - deepcluster top-1, and how much smaller it is on the transfer column)
are computed from the top1 rows after the run, by the report.

See :mod:`repro.methods.deepcluster` (the method and its readings),
:mod:`repro.methods.linear_probe` (the probes) and :mod:`repro.models.deepcluster_net` (the
network scaled to 28 x 28 and the probe pooling).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace as _replace
from pathlib import Path

import numpy as np

from repro.methods.deepcluster import (DeepCluster, DeepClusterConfig, RandomNetwork,
                                       SupervisedNetwork, TrainConfig)
from repro.methods.linear_probe import ProbeConfig
from repro.models.deepcluster_net import LAYERS, NetConfig
from repro.papers._common import StageConfig

PAPER = "deepcluster"
METHODS = ("imagenet_labels", "places_labels", "random", "deepcluster")
FANOUT = "seed"   # Ray units (repro.papers.fanout): a seed's networks serve every column
OTHER_PAPERS = ("pathak", "doersch", "zhang_color", "donahue", "noroozi_jigsaw",
                "noroozi_counting", "split_brain")
DATASETS = ("imagenet", "places205", "mnist-full", "usps")
BUDGET = {"train.epochs": "DeepCluster epochs", "supervised.epochs": "supervised epochs",
          "probe.epochs": "probe epochs", "train_images": "training images (0 = all)",
          "ablation.epochs": "k-ablation epochs"}
INCLUDE_UNREPORTED = True
METHOD_NOTES = {method: "not run: another paper's method" for method in OTHER_PAPERS}
NOTES = {
    "stand_ins": "mnist-full stands in for the ImageNet column (networks trained on MNIST "
                 "train, probes on MNIST train/test), usps for the Places column (transfer: "
                 "probes on USPS train/test of the MNIST-trained networks); USPS digits are "
                 "placed on MNIST's 28 x 28 canvas (repro.data.derived.usps_on_mnist_canvas)",
    "shared_networks": "a network depends on (source, method, seed): trained once (timed as "
                       "<column>/shared: <method> network) and reused by the other column",
    "measurement": "top1: the best probe epoch's test top-1 (the paper's reading); "
                   "nmi_labels / nmi_epochs: geometric-mean NMI (repro.metrics.nmi)"}


@dataclass
class Ablation:
    """Fig. 2c: k = ``k_over_classes`` x the source's classes, first seed, ``epochs`` epochs
    (0: train.epochs), probed at ``layer`` on the transfer column."""

    k_over_classes: tuple[float, ...] = (1, 3, 10, 30, 100)
    epochs: int = 0
    layer: str = "conv5"

    def __post_init__(self):
        if self.layer not in LAYERS:
            raise ValueError(f"ablation.layer: unknown {self.layer!r}; known: {list(LAYERS)}")
        if any(m <= 0 for m in self.k_over_classes) or self.epochs < 0:
            raise ValueError("ablation: k_over_classes must be > 0 and epochs >= 0")


@dataclass
class Config(StageConfig, paper=PAPER, datasets=DATASETS, methods=METHODS):
    """The stage's configuration; every field is set from params.yaml (section ``deepcluster``)."""

    source: str = ""                 # the networks' training set ("": the column itself)
    transfer: str = ""               # the transfer column of this source (Fig. 2c)
    train_images: int = 0            # > 0: every network trains on the first N training images
    probe_train_images: int = 0      # > 0: the first N of the column's training split
    probe_test_images: int = 0       # > 0: the first N of its test split (smoke profile)
    net: NetConfig = field(default_factory=NetConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    supervised: TrainConfig = field(default_factory=TrainConfig)
    deepcluster: DeepClusterConfig = field(default_factory=DeepClusterConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    ablation: Ablation = field(default_factory=Ablation)

    def check(self) -> None:
        for name in ("source", "transfer"):
            value = getattr(self, name)
            if value and value not in DATASETS:
                raise ValueError(f"{name}: unknown dataset {value!r}; known: {list(DATASETS)}")
        if min(self.train_images, self.probe_train_images, self.probe_test_images) < 0:
            raise ValueError("train_images, probe_train_images and probe_test_images must be >= 0")


# ---------------------------------------------------------------------------------- data
def load_data(name: str):
    """A column as a :class:`repro.data.Dataset`: images in [0, 1] (28 x 28 x 1 digits, the
    ``usps`` column on MNIST's canvas: ``usps-28``; the paper sets RGB), labels and its
    ``train`` / ``test`` split indices."""
    if name in PAPER_COLUMNS:
        return _paper_column(name)
    from repro.data import load

    return load("usps-28" if name == "usps" else name)


# The paper datasets as read here: 64 x 64 decoded JPEGs, the first 100 training images per
# class (ImageNet's 1.28 M images as one float array would need ~60 GB; full-scale training
# needs a streaming input pipeline, which this stage does not have: a stated difference)
PAPER_DATA = {"image_size": 64, "per_class": 100}
PAPER_COLUMNS = ("imagenet", "places205")


def _paper_column(name: str):
    """ImageNet (train + val) or Places205 (train + val) from their official files; absent
    files raise :class:`repro.data.DatasetError` (the runner's "not run: data absent")."""
    from repro.data import imagenet, places
    from repro.data.dataset import train_then_test

    read = {"imagenet": imagenet.load, "places205": places.load_places205}[name]
    return train_then_test(name, read(split="train", **PAPER_DATA),
                           read(split="val", image_size=PAPER_DATA["image_size"])).scaled()


# ------------------------------------------------------------------------------ networks
def _source_name(cfg, dataset: str) -> str:
    return cfg.source or dataset


def _network(cell, method: str, *, k: int | None = None, epochs: int | None = None):
    """(the trained network of ``method`` for this seed, its training facts: ``info_`` of
    :data:`NETWORKS`' learner); shared by the columns for the whole run, keyed by every setting it depends on."""
    cfg = cell.cfg
    default_k = cfg.deepcluster.k
    default_epochs = cfg.supervised.epochs if method.endswith("_labels") else cfg.train.epochs
    k, epochs = k or default_k, epochs or default_epochs
    train_set = cell.dataset if method == "places_labels" else _source_name(cfg, cell.dataset)
    key = (train_set, method, k, epochs, cell.seed,
           repr((cfg.net, cfg.train, cfg.supervised, cfg.deepcluster, cfg.train_images)))
    name = f"{method} network" + ("" if (k, epochs) == (default_k, default_epochs)
                                  else f" (k = {k}, {epochs} epochs)")
    return cell.shared(name, lambda: _train(cell, method, k, epochs), scope="run", key=key)


def _supervised(cell, data, *, k: int, epochs: int):
    """On the labels of ``data``'s training images, stopped on held-out training images."""
    cfg = cell.cfg
    train = _replace(cfg.supervised, epochs=epochs)
    held_out = _validation_split(cfg, data, train.validation_images)
    validation = (data.x[held_out], data.y[held_out]) if len(held_out) else None
    return SupervisedNetwork(train, cfg.net, validation=validation, verbose=cfg.verbose,
                             log=cell.log)


# method -> factory(cell, data the network trains on, k=, epochs=) -> a FeatureLearner
# (repro.methods.base): fit(x, *, seed, y) -> the network, its training facts in ``info_``
NETWORKS = {
    "imagenet_labels": _supervised, "places_labels": _supervised,
    "random": lambda cell, data, *, k, epochs: RandomNetwork(k, cell.cfg.net),
    "deepcluster": lambda cell, data, *, k, epochs: DeepCluster(
        _replace(cell.cfg.deepcluster, k=k), _replace(cell.cfg.train, epochs=epochs),
        cell.cfg.net, verbose=cell.cfg.verbose, log=cell.log)}


def _train(cell, method: str, k: int, epochs: int):
    """(the network of ``method`` trained on its training set, the learner's ``info_``)."""
    cfg, name = cell.cfg, _source_name(cell.cfg, cell.dataset)
    if method == "places_labels" or name == cell.dataset:
        data = cell.data
    else:
        data = cell.shared(f"source data ({name})", lambda: load_data(name), scope="dataset")
    index = data.train[:cfg.train_images] if cfg.train_images else data.train
    learner = NETWORKS[method](cell, data, k=k, epochs=epochs)
    model = learner.fit(data.x[index], seed=cell.seed, y=data.y[index])
    return model, learner.info_


def _validation_split(cfg, data, n: int) -> np.ndarray:
    """The supervised rows' early-stop set: the ``n`` training images after the first
    ``train_images`` (which the networks train on); never the test split."""
    if n == 0:
        return np.arange(0)
    if not cfg.train_images:
        raise ValueError("supervised.validation_images needs train_images > 0: the held-out "
                         "images are the training images after the first train_images")
    held_out = data.train[cfg.train_images:cfg.train_images + n]
    if len(held_out) < n:
        raise ValueError(f"supervised.validation_images = {n}: only {len(held_out)} training "
                         f"images follow the first {cfg.train_images}")
    return held_out


def _record_training(cell, history) -> None:
    """Fig. 2a/b: per-epoch rows, the first and last epoch's NMI, the halves' nmi_epochs gain."""
    cell.record_history(history)
    labels = [row["nmi_labels"] for row in history]
    epochs = [row["nmi_epochs"] for row in history[1:]]
    cell.record("nmi_labels", labels[0], unit="fraction", variant="first")
    cell.record("nmi_labels", labels[-1], unit="fraction", variant="last")
    if len(epochs) >= 2:
        cell.record("nmi_epochs", epochs[0], unit="fraction", variant="first")
        cell.record("nmi_epochs", epochs[-1], unit="fraction", variant="last")
    if len(epochs) >= 3:
        middle = epochs[(len(epochs) - 1) // 2]
        cell.record("nmi_epochs_gain", middle - epochs[0], unit="fraction", variant="first")
        cell.record("nmi_epochs_gain", epochs[-1] - middle, unit="fraction", variant="last")


# -------------------------------------------------------------------------------- probes
def _probe(cell, model, data, layers=LAYERS, *, name: str = "") -> dict:
    """Linear probes on ``layers`` of ``model``: train on the column's training split (first
    ``probe_train_images``), best epoch's top-1 on its test split -> {layer: top-1}."""
    from repro.methods.linear_probe import linear_probes
    from repro.models.deepcluster_net import probe_model
    from repro.models.inference import predict

    cfg = cell.cfg
    pool = data.train[:cfg.probe_train_images] if cfg.probe_train_images else data.train
    test = data.test[:cfg.probe_test_images] if cfg.probe_test_images else data.test
    train, what = _probe_train_images(cfg, data, pool, cell.seed)
    extractor = probe_model(model, layers)
    features = _as_list(predict(extractor, data.x[train]))
    test_features = _as_list(predict(extractor, data.x[test]))
    cell.log(f"[{PAPER}] {name or cell.dataset}: probing {', '.join(layers)} ({what}, "
             f"{len(test)} test images, {cfg.probe.epochs} epochs)")
    y = data.y[train]
    if cfg.probe.shots:   # the few labelled images repeated to the pool's size: each probe
        # epoch takes as many SGD steps as a full-data epoch would (ours)
        repeat = np.resize(np.arange(len(train)), len(pool))
        features, y = [f[repeat] for f in features], y[repeat]
    result = linear_probes(features, y, test_features, data.y[test], cfg.probe,
                           seed=cell.seed, names=list(layers))
    return result.best


def _probe_train_images(cfg, data, pool: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    """The probes' labelled training images: the whole pool, or ``probe.shots`` per class drawn
    from it (seeded by the run's seed, the same draw for every row and layer)."""
    from repro.methods.linear_probe import few_shot_indices

    if not cfg.probe.shots:
        return pool, f"{len(pool)} train images"
    picked = pool[few_shot_indices(data.y[pool], cfg.probe.shots, seed=seed)]
    return picked, (f"{cfg.probe.shots} labelled train images per class ({len(picked)}) of "
                    f"{len(pool)}")


def _as_list(value):
    return value if isinstance(value, list) else [value]


def run_cell(cell) -> None:
    """One row (method) of Table 1 on one column and seed."""
    cfg, method = cell.cfg, cell.method
    source = _source_name(cfg, cell.dataset)
    if method == "places_labels" and source == cell.dataset:
        cell.log(f"[{PAPER}] {cell.dataset}: places_labels is a transfer-column row only")
        return
    model, info = _network(cell, method)
    # Fig. 2a/b belong to the set the network trained on: recorded on that column (or, when
    # it is not one of the run's columns, on this one), whatever the order of the columns
    trained_here = (cell.dataset if method == "places_labels" else source) == cell.dataset \
        or source not in cfg.datasets
    if trained_here and "epochs_run" in info:   # the supervised rows: the epochs their kept
        cell.record("supervised_epochs", info["epochs"], unit="count")   # weights trained
        cell.record("supervised_epochs", info["epochs_run"], unit="count", variant="run")
    if trained_here and "history" in info:
        _record_training(cell, info["history"])
    top1 = _probe(cell, model, cell.data)
    for layer, value in top1.items():
        cell.record("top1", value, unit="fraction", variant=layer)
    if method == "deepcluster" and cfg.transfer and cell.seed == cfg.seeds[0]:
        _k_ablation(cell)


def _k_ablation(cell) -> None:
    """Fig. 2c on the source column's cell: networks with k = multiple x classes, probed at
    ``ablation.layer`` on the transfer column (variant: k / classes)."""
    cfg = cell.cfg
    transfer = cell.shared(f"transfer data ({cfg.transfer})", lambda: load_data(cfg.transfer),
                           scope="dataset")
    n_classes = int(np.unique(cell.data.y).size)
    epochs = cfg.ablation.epochs or cfg.train.epochs
    for multiple in cfg.ablation.k_over_classes:
        k = max(2, int(round(multiple * n_classes)))
        cell.log(f"[{PAPER}] k ablation: k = {k} ({multiple:g} x {n_classes} classes), "
                 f"{epochs} epochs")
        model, _ = _network(cell, "deepcluster", k=k, epochs=epochs)
        score = _probe(cell, model, transfer, layers=(cfg.ablation.layer,),
                       name=cfg.transfer)[cfg.ablation.layer]
        cell.record("downstream", score, unit="fraction", variant=f"{multiple:g}")


# ------------------------------------------------------------------------------- figures
def figures(outcome, figure_dir: Path) -> dict[str, Path]:
    """Table 1 as top-1 against the layer per column; Fig. 2a, 2b (per epoch) and 2c."""
    from repro.report.figures import plot_histories, plot_metric_vs_variant

    labels, out = outcome.reported.labels(), {}
    comparison = outcome.comparison
    ran = set(outcome.results["dataset"]) if len(outcome.results) else set()
    shown = [m for m in METHODS if m in set(comparison["method"])]
    part = comparison[(comparison["metric"] == "top1") & comparison["dataset"].isin(ran)
                      & comparison["method"].isin(shown)]
    if len(part) and part["n_seeds"].max() > 0:
        path = figure_dir / "table1_layers.png"
        plot_metric_vs_variant(part, "top1", path, labels=labels, profile=outcome.profile,
                               variant_label="layer",
                               title="Table 1: linear-probe top-1 per layer (dashed: the "
                                     "paper's column)").clear()
        out["table1_layers"] = path
    histories = outcome.histories
    if histories is not None and len(histories):
        for metric, name, title in (("nmi_labels", "fig2a", "Fig. 2a: NMI(clusters, labels)"),
                                    ("nmi_epochs", "fig2b", "Fig. 2b: NMI(epoch t-1, epoch t)")):
            for dataset in sorted(set(histories["dataset"])):
                path = figure_dir / f"{name}_{dataset}.png"
                plot_histories(histories, dataset, metric, path, labels=labels, band="minmax",
                               profile=outcome.profile,
                               title=f"{title}\n{labels.get(dataset, dataset)}").clear()
                out[f"{name}_{dataset}"] = path
    ablation = comparison[(comparison["metric"] == "downstream")
                          & comparison["dataset"].isin(ran)]
    if len(ablation) and ablation["n_seeds"].max() > 0:
        path = figure_dir / "fig2c.png"
        _plot_fig2c(ablation, path, profile=outcome.profile).clear()
        out["fig2c"] = path
    return out


def _plot_fig2c(rows, path: Path, *, profile: str):
    """Fig. 2c on two panels, one quantity per axis: the paper's Pascal VOC mAP (read off its
    plot) and ours, the transfer column's probe top-1, each against k / classes (log)."""
    from matplotlib.ticker import NullLocator

    from repro.report.figure_base import new_figure, save_png, titled
    from repro.report.palette import method_color

    rows = rows.assign(x=rows["variant"].astype(float)).sort_values("x")
    color = method_color("deepcluster")
    figure = new_figure((10.0, 4.5))
    paper_ax, ours_ax = figure.subplots(1, 2)
    paper = rows[rows["reported"].notna()].drop_duplicates("variant")
    paper_ax.plot(paper["x"], paper["reported"], color=color, marker="o",
                  markerfacecolor="none", linestyle="--")
    paper_ax.set_title("paper: fine-tuned on Pascal VOC 2007", fontsize=10)
    paper_ax.set_ylabel("Pascal VOC classification mAP (%)")
    ours = rows[rows["reproduced_mean"].notna()].drop_duplicates("variant")
    ours_ax.plot(ours["x"], ours["reproduced_mean"], color=color, marker="o")
    ours_ax.set_title("ours: linear probe of the transfer column at conv5", fontsize=10)
    ours_ax.set_ylabel(f"transfer probe top-1 ({ours['unit'].iloc[0]})")
    for ax, part in ((paper_ax, paper), (ours_ax, ours)):
        ax.set_xscale("log")
        ax.set_xticks(part["x"].tolist(), part["variant"].astype(str).tolist())
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("k / number of classes (log)")
        ax.grid(alpha=0.3)
    figure.suptitle(titled("Fig. 2c: downstream score against k", profile,
                           int(rows["n_seeds"].max())))
    save_png(figure, path)
    return figure
