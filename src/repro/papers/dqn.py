"""DQN (Cao, Long, Wang, Zhu, Wen, AAAI 2016): retrieval mAP at 12/24/32/48 bits, the
ablations DQN2+ / DQNip, the curves, the error bound and the efficiency claims.

**Protocols.** The paper's datasets (``paper`` profile, when their files are present):
CIFAR-10 (100 queries and 500 training images per class, database = the other 54000, mAP
over the whole database), NUS-WIDE (21 most frequent concepts, 100 queries and 500 training
images per concept, database = the rest, mAP@5000) and MIRFlickr-25k (1000 queries, 4000
training images, mAP@5000 -- the R there is unconfirmed). Stand-ins that run here, labelled
as such beside every number (their cells are "not comparable: stand-in data"):

- ``mnist-full`` for CIFAR-10: the CIFAR-10 protocol on real MNIST (70000): 100 queries and
  500 training images per class, database = the other 64000, mAP over the whole database;
- ``mnist-pairs`` for NUS-WIDE: derived multi-label data (:func:`repro.data.derived.digit_pairs`:
  two real MNIST digits per 28 x 28 image, labels = the digits present; 35000 images), the
  NUS-WIDE protocol (100 queries and 500 training images per concept, database = the rest,
  mAP@5000, relevant = at least one shared label).

**Backbone** (:mod:`repro.models.retrieval`): the paper fine-tunes ImageNet-pretrained AlexNet;
here the stand-ins use a small AlexNet-style convnet pretrained supervised on USPS (another
labelled digit set: :func:`repro.data.derived.usps_on_mnist_canvas`), the paper's datasets
VGG16-ImageNet (keras.applications). The paper starts every run from one published ImageNet
model, so the stand-in backbone is pretrained once (seed ``backbone.pretrain_seed``) and serves
every method, seed and stand-in of a run (its conv5 features of a dataset computed once); the
seeds vary the split and the heads' initialisation (each head seeded from the cell's seed
when it is built, so a method's numbers do not depend on which methods ran before it). On
MNIST-pairs (``trunk_finetune_epochs``) the trunk is first fine-tuned on each seed's training
split with its multi-hot labels (:func:`finetune_backbone`): pretrained on single centred
digits it does not see two half-size ones. All methods of one (dataset, seed) share the
training images. KSH-D = KSH on the (fine-tuned, where it is) backbone's fc7 features.

**Methods**: ``ksh`` (raw pixels; the paper's hand-crafted features are unavailable), ``ksh_d``,
``cnnh``, ``dnnh`` (Hamming ranking of {-1, +1} codes), ``dqn``, ``dqn2plus``, ``dqnip`` (AQD
ranking, K = 16 codewords, M = bits / 4 subspaces). Ties in a ranking: lower database index
first (:func:`repro.metrics.rank`). See each method's module for its reading of the paper.
Each is a retriever (:mod:`repro.methods.base`) built from the table ``RETRIEVERS`` (what it
reads, its factory); :func:`run_cell` fits it on the training split at each code length,
encodes the queries and the database and ranks.

**Measurements** (each cell: dataset x method x seed, variant = the code length in bits):
``map`` (mAP, or mAP@R; the chance level of each column, the mAP of a random ranking, is
drawn beside it), at ``curve_bits`` the precision@top-R and the rank-based precision-recall
curves; for DQN ``map_ip`` at ``curve_bits`` (AQD ranked by -<z_q, C h_x>, as the authors'
evaluation code),
the fraction of (query, item) pairs on which the slides' Eq. 6 bound holds under both
readings, labelled (``eq6_bound_holds``: Euclidean AQD, the triangle inequality;
``eq6_bound_holds_squared``: the literal squared reading; every pair of the first seed's
codes at every length), the quantization error, and (first seed, ``lambda_sweep``) its mAP
against lambda on a validation split of the database (:func:`validation_split`);
the efficiency of the stage's own database at ``efficiency_bits``: bytes per item of DQN's
codes vs the float features, and the query time of all queries over the database, every
search on ``timing_threads`` threads: look-up-table AQD (ours, faiss ``IndexPQ`` with the
same codebooks, faiss ``IndexPQFastScan``) and exhaustive float search (numpy BLAS, faiss
``IndexFlatL2``), each timed ``timing_repeats`` times on the first seed's model (the sizes,
not the weights, set these times; the repeats measure their noise); ``aqd_speedup`` = the
fastest float search's time / the fastest look-up-table search's.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from keras import layers
from threadpoolctl import threadpool_limits

from repro.data import load
from repro.data.derived import retrieval_split
from repro.methods.cnnh import CNNH, CNNHConfig
from repro.methods.dnnh import DNNH, DNNHConfig
from repro.methods.dqn import DQN, DQN2Plus, DQNConfig, subspaces
from repro.methods.hash_heads import HeadConfig, HeadInputs, label_matrix
from repro.methods.ksh import KSH, KSHConfig
from repro.methods.pretrain import make_optimizer
from repro.metrics import mean_average_precision, precision_at_top, precision_recall_at_top
from repro.models.retrieval import (Backbone, BackboneConfig, fc_layers, imagenet_backbone,
                                    pretrain_backbone)
from repro.papers._common import StageConfig
from repro.quantization.dqn_codes import aqd_search, eq6_bound_fraction, faiss_index_pq
from repro.report.figures import plot_metric_vs_variant, save_png
from repro.report.palette import method_color

PAPER = "dqn"
METHODS = ("ksh", "ksh_d", "cnnh", "dnnh", "dqn2plus", "dqnip", "dqn")
# The modules only some methods' cells run (repro.papers.cells: a change to one of them
# invalidates those methods' stored cells only; the backbone and heads belong to every cell)
METHOD_MODULES = {"ksh": ("repro.methods.ksh",), "ksh_d": ("repro.methods.ksh",),
                  "cnnh": ("repro.methods.cnnh",), "dnnh": ("repro.methods.dnnh",),
                  "dqn2plus": ("repro.methods.dqn",), "dqnip": ("repro.methods.dqn",),
                  "dqn": ("repro.methods.dqn",)}
DATASETS = ("nus-wide", "cifar-10", "mirflickr-25k", "mnist-full", "mnist-pairs")
JPEG_DATASETS = ("nus-wide", "mirflickr-25k")
JPEG_SIZE = 128   # decoded size of their JPEGs (224 x 224 float copies of NUS-WIDE: ~30 GB)
BUDGET = {"head.epochs": "fine-tuning epochs", "head.finetune_trunk": "conv1-conv5 fine-tuned",
          "backbone.pretrain_epochs": "backbone pretraining epochs",
          "ksh.n_iter": "KSH gradient-descent iterations"}
INCLUDE_UNREPORTED = True
MEASUREMENT = (
    "map: mAP over the whole database (mnist-full, cifar-10) or mAP@R (mnist-pairs, nus-wide, "
    "mirflickr-25k: R = 5000), a query with no relevant item counts 0; query_s: wall-clock "
    "seconds to compute every query's distances to the whole database and its top R "
    "(timing_repeats timings); bytes_per_item: bytes stored per database item")
NOTES = {"measurement": MEASUREMENT,
         "stand_ins": "mnist-full stands in for CIFAR-10 (its protocol on real MNIST); "
                      "mnist-pairs (derived: two real MNIST digits per image) for NUS-WIDE",
         "backbone": "stand-ins: AlexNet-style convnet pretrained supervised on USPS; paper "
                     "datasets: VGG16 ImageNet (keras.applications; AlexNet is not there)"}


@dataclass
class Protocol:
    """Split and evaluation of one dataset (per class or concept counts, mAP cutoff)."""

    queries_per_class: int = 100
    train_per_class: int = 500
    map_at: int = 0                 # 0: the whole database
    queries: int = 0                # MIRFlickr: fixed totals instead of per-concept counts
    train: int = 0


@dataclass
class Config(StageConfig, paper=PAPER, datasets=DATASETS, methods=METHODS):
    """The stage's configuration; every field is set from params.yaml (section ``dqn``)."""

    bits: tuple[int, ...] = (12, 24, 32, 48)
    curve_bits: int = 32
    efficiency_bits: int = 32
    timing_repeats: int = 3
    timing_threads: int = 1         # every timed search on this many threads (equal threads)
    protocol: Protocol = field(default_factory=Protocol)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    ksh: KSHConfig = field(default_factory=KSHConfig)
    cnnh: CNNHConfig = field(default_factory=CNNHConfig)
    dnnh: DNNHConfig = field(default_factory=DNNHConfig)
    dqn: DQNConfig = field(default_factory=DQNConfig)
    curve_points: int = 20
    lambda_sweep: tuple[float, ...] = ()   # DQN's validation mAP at curve_bits (first seed)
    trunk_finetune_epochs: int = 0  # > 0: fine-tune the trunk on each seed's training split
    subset: int = 0                 # > 0: only the first ``subset`` images (smoke profile)

    def check(self) -> None:
        for b in self.bits:
            m = subspaces(b, self.dqn.n_codewords)
            if self.dqn.width % m:
                raise ValueError(f"dqn.width {self.dqn.width} not divisible by M = {m} ({b} bits)")
        for name in ("curve_bits", "efficiency_bits"):
            if getattr(self, name) not in self.bits:
                raise ValueError(f"{name} {getattr(self, name)} is not one of bits {list(self.bits)}")
        if self.timing_repeats < 1 or self.timing_threads < 1:
            raise ValueError(f"timing_repeats and timing_threads must be >= 1, got "
                             f"{self.timing_repeats}, {self.timing_threads}")


def load_data(name: str):
    """The stage's datasets through :func:`repro.data.load` (``mnist-pairs`` is derived, see
    :mod:`repro.data.derived`), scaled to [0, 1]."""
    options = {"image_size": JPEG_SIZE} if name in JPEG_DATASETS else {}
    return load(name, **options).scaled()   # JPEG sets: uint8 RGB (VGG16 reads them at 224)


def _data(cell):
    """The dataset, or its first ``subset`` images (the smoke profile)."""
    n = cell.cfg.subset
    if not n or n >= len(cell.data.x):
        return cell.data
    return cell.data.head(n)


def _backbone(cell):
    """The pretrained backbone: it depends on the source set and ``backbone`` (with its
    ``pretrain_seed``) only, so every seed and stand-in of a run shares it (timed once, as
    ``<dataset>/shared: pretrained backbone``)."""
    cfg = cell.cfg
    return cell.shared("pretrained backbone", lambda: _pretrained_backbone(cell), scope="run",
                       key=repr(cfg.backbone))


def _pretrained_backbone(cell):
    cfg = cell.cfg
    if cfg.backbone.kind == "vgg16-imagenet":
        return imagenet_backbone(cfg.backbone)
    usps = load("usps-28")   # the stand-ins' pretraining set: USPS on MNIST's canvas
    backbone = pretrain_backbone(usps.x, usps.y, cfg.backbone, seed=cfg.backbone.pretrain_seed,
                                 verbose=cfg.verbose, log=cell.log)
    cell.log(f"[{PAPER}] backbone: USPS held-out top-1 {backbone.source_accuracy:.3f}")
    return backbone


def _split(cell):
    p = cell.cfg.protocol
    y = _data(cell).y
    if p.queries:       # fixed totals (MIRFlickr): a random split of the labelled images
        order = np.random.default_rng(cell.seed).permutation(len(y))
        return {"query": order[:p.queries], "train": order[p.queries:p.queries + p.train],
                "database": order[p.queries + p.train:]}
    return retrieval_split(y, n_query=p.queries_per_class, n_train=p.train_per_class,
                           seed=cell.seed)


def _inputs(cell, split=None):
    """What the heads read (conv5 features of every image when the trunk is frozen): the same
    for every seed, so computed once per dataset (``shared: backbone features``, dropped when
    the dataset's seeds end: one dataset's features held at a time). With
    ``trunk_finetune_epochs`` > 0 (MNIST-pairs: a trunk pretrained on single centred digits
    does not see two half-size ones) the trunk is first fine-tuned on this seed's training
    split (:func:`finetune_backbone`), so the features are per seed."""
    cfg = cell.cfg
    if cfg.trunk_finetune_epochs and split is not None:
        def compute():
            t = split["train"]
            backbone = finetune_backbone(_backbone(cell), _data(cell).x[t], _labels(cell, t),
                                         cfg.trunk_finetune_epochs, seed=cell.seed,
                                         verbose=cfg.verbose, log=cell.log)
            return HeadInputs(backbone, _data(cell).x, cfg.head)
        return cell.shared("fine-tuned backbone features", compute, scope="seed",
                           key=(cfg.subset, repr(cfg.backbone), repr(cfg.head),
                                cfg.trunk_finetune_epochs))
    return cell.shared("backbone features",
                       lambda: HeadInputs(_backbone(cell), _data(cell).x, cfg.head),
                       scope="dataset", key=(cfg.subset, repr(cfg.backbone), repr(cfg.head)))


def finetune_backbone(backbone, x: np.ndarray, y: np.ndarray, epochs: int, *, seed: int,
                      verbose: int = 2, log=print):
    """A copy of the pretrained backbone (trunk and fc6 / fc7) fine-tuned on the training
    images ``x`` and their labels ``y`` (classes, or multi-hot: one sigmoid per label, binary
    cross-entropy), Adam at the backbone's learning rate, ``epochs`` epochs. Only the
    training split's labels are read; the queries and the database are never seen."""
    if epochs < 1:
        raise ValueError(f"finetune_backbone: epochs must be >= 1, got {epochs}")
    cfg = backbone.cfg
    if cfg is None or cfg.kind != "convnet":
        raise ValueError("finetune_backbone fine-tunes the stand-in convnet only")
    target = label_matrix(y)
    keras.utils.set_random_seed(seed)
    trunk = keras.models.clone_model(backbone.trunk)
    trunk.set_weights(backbone.trunk.get_weights())
    inputs = keras.Input(shape=x.shape[1:])
    h = fc_layers(trunk(inputs), cfg, backbone.fc_weights)
    out = layers.Dense(target.shape[1], activation="sigmoid", name="train_labels")(h)
    model = keras.Model(inputs, out, name="backbone_finetuning")
    model.compile(optimizer=make_optimizer("adam", cfg.learning_rate), loss="binary_crossentropy")
    log(f"fine-tuning the backbone on the training split ({len(x)} images, {epochs} epochs)")
    model.fit(backbone.prepare(x), target, epochs=epochs, batch_size=cfg.batch_size,
              shuffle=True, verbose=verbose)
    weights = [tuple(model.get_layer(name).get_weights()) for name in ("fc6", "fc7")]
    return Backbone(trunk, weights, cfg, backbone.source_accuracy)


def _pixels(cell, split):
    """KSH's input: the raw pixels, flattened (no backbone)."""
    x = _data(cell).x
    flat = x.reshape(len(x), -1)
    return lambda index: flat[index]


def _fc7(cell, split):
    """KSH-D's input: the (fine-tuned, where it is) backbone's fc7 features."""
    inputs = _inputs(cell, split)
    fc7 = cell.shared("fc7 features", lambda: inputs.backbone.fc7(inputs.conv5()))
    return lambda index: fc7[index]


def _head_rows(cell, split):
    """The deep heads' input: conv5 features (trunk frozen) or images (fine-tuned)."""
    return _inputs(cell, split).rows


def _head(cell, split) -> dict:
    """What every deep head shares: the head settings, the backbone, the cell's log."""
    cfg = cell.cfg
    return dict(head=cfg.head, backbone=_inputs(cell, split).backbone, verbose=cfg.verbose,
                log=cell.log)


def _dqn2plus(cell, split, bits):
    """DQN2+'s network does not depend on the code length: trained once per seed (shared),
    quantized at every length."""
    cfg = cell.cfg
    rows, t = _head_rows(cell, split), split["train"]
    network = cell.shared(
        "dqn2plus network", lambda: DQN2Plus(bits, cfg.dqn, **_head(cell, split)).train_network(
            rows(t), _labels(cell, t), seed=cell.seed),
        scope="seed", key=(repr(cfg.dqn), repr(cfg.head)))
    return DQN2Plus(bits, cfg.dqn, network=network, **_head(cell, split))


def _deep(cls, settings: str, **kw):
    return lambda cell, split, bits: cls(bits, getattr(cell.cfg, settings), **kw,
                                         **_head(cell, split))


# method -> (what it reads: (cell, split) -> rows(index), factory (cell, split, bits) -> a
# Retriever, repro.methods.base)
RETRIEVERS = {
    "ksh": (_pixels, lambda cell, split, bits: KSH(bits, cell.cfg.ksh)),
    "ksh_d": (_fc7, lambda cell, split, bits: KSH(bits, cell.cfg.ksh)),
    "cnnh": (_head_rows, _deep(CNNH, "cnnh")),
    "dnnh": (_head_rows, _deep(DNNH, "dnnh")),
    "dqn2plus": (_head_rows, _dqn2plus),
    "dqnip": (_head_rows, _deep(DQN, "dqn", loss="inner_product")),
    "dqn": (_head_rows, _deep(DQN, "dqn")),
}


def run_cell(cell) -> None:
    """One method on one dataset and seed, at every code length: fit on the training split,
    encode the queries and the database, rank, evaluate."""
    cfg = cell.cfg
    split = cell.shared("split", lambda: _split(cell))
    reads, factory = RETRIEVERS[cell.method]
    rows = reads(cell, split)
    xq, xt, xd = (rows(split[part]) for part in ("query", "train", "database"))
    kept = None
    for bits in cfg.bits:
        cell.log(f"[{PAPER}] {cell.dataset} seed {cell.seed}: {cell.method} at {bits} bits")
        index = factory(cell, split, bits).fit(xt, _labels(cell, split["train"]), seed=cell.seed)
        if hasattr(index, "history"):
            cell.record_history(index.history, variant=bits)
        _evaluate(cell, split, bits, index, index.encode(xq), index.encode(xd))
        if bits == cfg.curve_bits:
            kept = index
    if cell.method == "dqn" and cfg.lambda_sweep and cell.seed == cfg.seeds[0]:
        _lambda_sweep(cell, rows, split, kept)


def validation_split(split: dict, seed: int, n_query: int, n_items: int = 10000) -> dict:
    """Validation queries and items, both drawn from the database (the test queries are never
    touched; the database is the retrieval side of the training data in this protocol):
    ``n_query`` validation queries and up to ``n_items`` other database items to rank."""
    database = np.asarray(split["database"])
    if n_query < 1 or n_query >= len(database):
        raise ValueError(f"validation_split: n_query must be in [1, {len(database) - 1}], got {n_query}")
    order = np.random.default_rng([seed, 25]).permutation(len(database))
    return {"query": np.sort(database[order[:n_query]]),
            "database": np.sort(database[order[n_query:n_query + n_items]])}


def _lambda_sweep(cell, rows, split, kept) -> None:
    """DQN's validation mAP at curve_bits for each lambda of ``lambda_sweep`` (the first seed
    only), on a validation split drawn from the database (:func:`validation_split`), never the
    test queries. The main runs use the authors' lambda; this curve shows whether the
    validation split would choose another."""
    cfg, bits = cell.cfg, cell.cfg.curve_bits
    val = validation_split(split, cell.seed, len(split["query"]))
    yq, yd = _labels(cell, val["query"]), _labels(cell, val["database"])
    at = min(cfg.protocol.map_at or len(yd), len(yd))
    xq, xd = rows(val["query"]), rows(val["database"])
    t = split["train"]
    for lam in cfg.lambda_sweep:
        if lam == cfg.dqn.quantization_weight and kept is not None:
            index = kept
        else:
            cell.log(f"[{PAPER}] {cell.dataset}: DQN at {bits} bits with lambda {lam:g} (validation)")
            dqn_cfg = dataclasses.replace(cfg.dqn, quantization_weight=lam)
            index = DQN(bits, dqn_cfg, **_head(cell, split)).fit(rows(t), _labels(cell, t),
                                                                 seed=cell.seed)
        value = mean_average_precision(yq, yd, index.rank(index.encode(xq), index.encode(xd), at))
        cell.record("val_map_vs_lambda", value, unit="fraction", variant=f"lambda={lam:g}")


def _labels(cell, index):
    return _data(cell).y[index]


def _evaluate(cell, split, bits, index, queries, database) -> None:
    """mAP (and at curve_bits the curves) of ``index``'s ranking of the encoded database for
    the encoded queries; DQN's own measurements."""
    cfg = cell.cfg
    yq, yd = _labels(cell, split["query"]), _labels(cell, split["database"])
    n_db = len(split["database"])
    at = cfg.protocol.map_at or n_db
    curves = bits == cfg.curve_bits
    if curves:   # the PR curve needs the whole ranking: rank once (a partial ranking is the
        full = index.rank(queries, database, n_db)   # full one's first columns, metrics.rank)
        ranking = full[:, :min(at, n_db)]
    else:
        ranking = index.rank(queries, database, min(at, n_db))
    value = mean_average_precision(yq, yd, ranking)
    cell.record("map", value, unit="fraction", variant=bits)
    if cell.method == "dqn" and curves:   # the authors' evaluation ranks i2i AQD by
        # -<z_q, C h_x> (map_ip; at the curve length: a full ranking costs seconds)
        ip = index.rank(queries, database, min(at, n_db), distance="inner_product")
        cell.record("map_ip", mean_average_precision(yq, yd, ip), unit="fraction", variant=bits)
    if curves:
        top_r = np.unique(np.linspace(1, ranking.shape[1], cfg.curve_points).astype(int))
        cuts = np.unique(np.geomspace(1, n_db, cfg.curve_points * 2).astype(int))
        pr = precision_recall_at_top(yq, yd, full, cuts)
        cell.keep(f"curves/{cell.dataset}/{cell.method}/{cell.seed}", {
            "top_r": top_r, "precision_at_r": precision_at_top(yq, yd, ranking, top_r),
            "cutoffs": pr.thresholds, "precision": pr.precision, "recall": pr.recall})
    if cell.method == "dqn":
        _dqn_measurements(cell, bits, queries.z, database.z, database.codes, index.quantizer)


def _dqn_measurements(cell, bits, zq, zd, codes, quantizer) -> None:
    """Eq. 6 bound, quantization error and (at efficiency_bits) bytes and query times."""
    first_seed = cell.seed == cell.cfg.seeds[0]   # the Eq. 6 check and the query times
    if first_seed:   # the bound on every pair of the first seed's codes
        check = eq6_bound_fraction(zq, zd, quantizer.codebooks, codes)
        cell.record("eq6_bound_holds", check.euclidean, unit="fraction", variant=bits)
        cell.record("eq6_bound_holds_squared", check.squared, unit="fraction", variant=bits)
    recon = quantizer.decode(codes)
    cell.record("quantization_error", float(np.mean(np.sum((zd - recon) ** 2, axis=1))),
                unit="fraction", variant=bits)
    if bits != cell.cfg.efficiency_bits:
        return
    width = zd.shape[1]
    cell.record("bytes_per_item", bits / 8, unit="bytes", variant=bits)
    cell.record("bytes_per_item", 4.0 * width, unit="bytes", variant=bits, method="float_features")
    if not first_seed:
        return   # query times: the first seed's model, timing_repeats times (the noise measured)
    for repeat, seconds in enumerate(_query_timings(cell, zq, zd, codes, quantizer)):
        for method, value in seconds.items():
            cell.record("query_s", value, unit="s", variant=bits, method=method, repeat=repeat)
        best_lut = min(seconds[m] for m in LOOKUP_SEARCHES)
        best_flat = min(seconds[m] for m in FLOAT_SEARCHES)
        cell.record("aqd_speedup", best_flat / best_lut, unit="x", variant=bits,
                    method="aqd_lookup", repeat=repeat)


# The speed claim: the fastest look-up-table search against the fastest exhaustive float
# search, every one on ``timing_threads`` threads (faiss's OpenMP, numpy's BLAS through
# threadpoolctl, our scan's thread pool)
LOOKUP_SEARCHES = ("aqd_lookup", "faiss_indexpq", "faiss_pqfastscan")
FLOAT_SEARCHES = ("float_exhaustive", "faiss_flat")


def _query_timings(cell, zq, zd, codes, quantizer):
    """Per repeat: seconds of every query's distances to the whole database and its top R:
    look-up-table searches -- ours (:func:`repro.quantization.dqn_codes.aqd_search`), faiss
    ``IndexPQ`` (the same codebooks and codes: exact ADC) and faiss ``IndexPQFastScan`` built
    from it (SIMD scan of 8-bit quantized tables: approximate AQD) -- and exhaustive float
    searches -- numpy BLAS + argpartition, faiss ``IndexFlatL2`` -- all on ``timing_threads``
    threads."""
    import faiss

    threads = cell.cfg.timing_threads
    top = min(cell.cfg.protocol.map_at or 1000, len(zd))
    index_pq = faiss_index_pq(quantizer.codebooks, codes)
    fastscan = faiss.IndexPQFastScan(index_pq)
    index_flat = faiss.IndexFlatL2(zd.shape[1])
    index_flat.add(np.ascontiguousarray(zd))
    zq = np.ascontiguousarray(zq)

    def numpy_top(dist):
        return np.argpartition(dist, top - 1, axis=1)[:, :top]

    def float_distances():
        return (zq * zq).sum(1)[:, None] - 2.0 * zq @ zd.T + (zd * zd).sum(1)[None, :]

    runs = {"aqd_lookup": lambda: aqd_search(quantizer, zq, codes, top, n_threads=threads),
            "faiss_indexpq": lambda: index_pq.search(zq, top),
            "faiss_pqfastscan": lambda: fastscan.search(zq, top),
            "float_exhaustive": lambda: numpy_top(float_distances()),
            "faiss_flat": lambda: index_flat.search(zq, top)}
    out = []
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            for _ in range(cell.cfg.timing_repeats):
                seconds = {}
                for name, call in runs.items():
                    started = time.perf_counter()
                    call()
                    seconds[name] = time.perf_counter() - started
                out.append(seconds)
    finally:
        faiss.omp_set_num_threads(before)
    return out


# ---------------------------------------------------------------------------- figures

def curves_frame(outcome):
    """Every kept curve as one long table: dataset, method, seed, curve, x, y (from the run's
    artifacts, or from the curves.csv a re-judged run kept)."""
    import pandas as pd

    stored = Path(outcome.report_dir) / "curves.csv"
    if not any(key.startswith("curves/") for key in outcome.artifacts) and stored.is_file():
        return pd.read_csv(stored)   # a re-judged run: the curves its run kept
    rows = []
    for key, curve in outcome.artifacts.items():
        if not key.startswith("curves/"):
            continue
        _, dataset, method, seed = key.split("/")
        for x, y in zip(curve["top_r"], curve["precision_at_r"]):
            rows.append((dataset, method, int(seed), "precision_at_top_r", int(x), float(y)))
        for x, p, r in zip(curve["cutoffs"], curve["precision"], curve["recall"]):
            rows.append((dataset, method, int(seed), "pr_precision", int(x), float(p)))
            rows.append((dataset, method, int(seed), "pr_recall", int(x), float(r)))
    return pd.DataFrame(rows, columns=["dataset", "method", "seed", "curve", "x", "y"])


def figures(outcome, figure_dir: Path) -> dict[str, Path]:
    """mAP vs bits per dataset, PR and precision@top-R curves at curve_bits, query times."""
    labels, out = outcome.reported.labels(), {}
    results = outcome.results
    ran = set(results["dataset"]) if len(results) else set()
    comparison = outcome.comparison
    part = comparison[(comparison["metric"] == "map") & comparison["dataset"].isin(ran)]
    if len(part) and part["n_seeds"].max() > 0:
        path = figure_dir / "map_vs_bits.png"
        fig = plot_metric_vs_variant(part, "map", path, labels=labels, profile=outcome.profile,
                                     variant_label="code length (bits)",
                                     title="mAP vs code length (dashed: paper; dotted: chance)")
        chance = chance_maps(outcome)
        panels = [ax for ax in fig.axes if ax.has_data()]   # one per dataset, in order
        for ax, dataset in zip(panels, dict.fromkeys(part["dataset"])):
            if dataset in chance:
                ax.axhline(chance[dataset], color="0.5", linestyle=":")
                ax.annotate(f"chance {chance[dataset]:.3f}", (0.01, chance[dataset]),
                            xycoords=("axes fraction", "data"), fontsize=7, color="0.4",
                            va="bottom")
        out["map_vs_bits"] = _finish(fig, path)
    curves = curves_frame(outcome)
    if not curves.empty:
        curves.to_csv(outcome.report_dir / "curves.csv", index=False)
        for dataset in sorted(set(curves["dataset"])):
            out[f"curves_{dataset}"] = _plot_curves(curves[curves["dataset"] == dataset], dataset,
                                                    labels, outcome, figure_dir)
    sweep = results[results["metric"] == "val_map_vs_lambda"] if len(results) else results
    if len(sweep):
        out["map_vs_lambda"] = _plot_lambda_sweep(sweep, labels, outcome, figure_dir)
    if outcome.histories is not None and len(outcome.histories):
        out["loss_curves"] = _plot_losses(outcome.histories, labels, outcome, figure_dir)
    timing = results[results["metric"] == "query_s"] if len(results) else results
    if len(timing):
        out["query_time"] = _plot_query_times(timing, labels, outcome, figure_dir)
    return out


def chance_maps(outcome) -> dict[str, float]:
    """{dataset: the mAP of a random ranking} (the chance gate's level: the share of database
    items relevant to a query), from the run's provenance."""
    levels = (outcome.provenance or {}).get("extra", {}).get("chance_levels") or {}
    return {d: float(v["map"]) for d, v in levels.items() if v and "map" in v}


def map_table(outcome, metric: str = "map"):
    """Mean ``metric`` per method (rows) and (dataset, bits) (columns), with the chance level
    of each column (a random ranking) as the last row."""
    import pandas as pd

    res = outcome.results[outcome.results.metric == metric]
    table = (res.pivot_table(index="method", columns=["dataset", "variant"], values="value",
                             aggfunc="mean")
             .reindex([m for m in METHODS if m in set(res.method)]))
    chance = chance_maps(outcome)
    row = pd.Series({col: chance.get(col[0], np.nan) for col in table.columns},
                    name="chance (random ranking)")
    return pd.concat([table, row.to_frame().T]).round(3)


def _plot_losses(histories, labels, outcome, figure_dir) -> Path:
    """Training loss per epoch of every deep head (mean over seeds): one row per dataset, one
    panel per method, one line per code length (DQN2+: one network at every length), so
    where each stopped (plateau, time budget or cap) is visible."""
    import matplotlib.pyplot as plt

    h = histories.dropna(subset=["loss"])
    datasets = sorted(set(h["dataset"]))
    methods = [m for m in METHODS if m in set(h["method"])]
    fig, axes = plt.subplots(len(datasets), len(methods), squeeze=False, layout="constrained",
                             figsize=(2.6 * len(methods) + 0.5, 2.4 * len(datasets) + 0.6))
    styles = ["-", "--", ":", "-."]
    for row, dataset in zip(axes, datasets):
        for ax, method in zip(row, methods):
            rows = h[(h["dataset"] == dataset) & (h["method"] == method)]
            variants = sorted(set(rows["variant"]), key=lambda v: float(v))
            for i, variant in enumerate(variants[:1] if method == "dqn2plus" else variants):
                curve = rows[rows["variant"] == variant].groupby("epoch")["loss"].mean()
                ax.plot(curve.index, curve.values, color=method_color(method),
                        linestyle=styles[i % len(styles)],
                        label="all lengths" if method == "dqn2plus" else f"{variant} bits")
            ax.set_title(f"{labels.get(method, method)}, {labels.get(dataset, dataset)}"[:48],
                         fontsize=8)
            ax.set_xlabel("epoch", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if len(rows):
                ax.legend(fontsize=6)
        row[0].set_ylabel("training loss", fontsize=8)
    fig.suptitle(f"Training losses, mean over seeds [{outcome.profile}]", fontsize=10)
    return _finish(fig, figure_dir / "loss_curves.png")


def _plot_curves(curves, dataset, labels, outcome, figure_dir) -> Path:
    import matplotlib.pyplot as plt

    fig, (ax_pr, ax_top) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    mean = curves.groupby(["method", "curve", "x"], sort=False)["y"].mean()
    for method in [m for m in METHODS if m in set(curves["method"])]:
        name, color = labels.get(method, method), method_color(method)
        prec, rec = mean[method]["pr_precision"], mean[method]["pr_recall"]
        ax_pr.plot(rec.values, prec.values, marker=".", color=color, label=name)
        top = mean[method]["precision_at_top_r"]
        ax_top.plot(top.index, top.values, marker=".", color=color, label=name)
    level = chance_maps(outcome).get(dataset)
    if level is not None:
        for ax in (ax_pr, ax_top):
            ax.axhline(level, color="0.5", linestyle=":", label="chance (random ranking)")
    bits = outcome.cfg.curve_bits if outcome.cfg is not None else ""
    ax_pr.set(xlabel="recall", ylabel="precision", title="precision-recall (rank cut-offs)")
    ax_top.set(xlabel="R (top retrieved)", ylabel="precision", title="precision at top R")
    for ax in (ax_pr, ax_top):
        ax.grid(alpha=0.3)
    ax_top.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"{labels.get(dataset, dataset)}, {bits} bits, mean over seeds "
                 f"[{outcome.profile} profile]")
    return _finish(fig, figure_dir / f"curves_{dataset}.png")


def _plot_lambda_sweep(sweep, labels, outcome, figure_dir) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
    styles = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D")]
    for i, (dataset, part) in enumerate(sweep.groupby("dataset")):
        lam = part["variant"].astype(str).str.removeprefix("lambda=").astype(float)
        part = part.assign(lam=lam).sort_values("lam")
        line, marker = styles[i % len(styles)]
        ax.plot(part["lam"].astype(str), part["value"], color=method_color("dqn"),
                linestyle=line, marker=marker, label=labels.get(dataset, dataset))
    bits = outcome.cfg.curve_bits if outcome.cfg is not None else ""
    ax.set(xlabel="lambda (authors' units; their value 1e-4)", ylabel="validation mAP",
           title=f"DQN at {bits} bits against lambda: validation split of the database,\n"
                 f"first seed [{outcome.profile}]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="dataset (line style)", title_fontsize=8)
    return _finish(fig, figure_dir / "map_vs_lambda.png")


def _plot_query_times(timing, labels, outcome, figure_dir) -> Path:
    import matplotlib.pyplot as plt

    stats = timing.groupby(["dataset", "method"], sort=False)["value"].agg(
        ["median", "min", "max"]).reset_index()
    datasets = sorted(set(stats["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4.2), squeeze=False,
                             layout="constrained")
    for ax, dataset in zip(axes[0], datasets):
        part = stats[stats["dataset"] == dataset]
        names = [labels.get(m, m).replace(" (", "\n(") for m in part["method"]]
        ax.bar(names, part["median"], color=[method_color(m) for m in part["method"]],
               yerr=[part["median"] - part["min"], part["max"] - part["median"]], capsize=3)
        ax.set(title=labels.get(dataset, dataset), ylabel="seconds (median, min-max)", yscale="log")
        ax.tick_params(axis="x", labelsize=8, rotation=20)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"All queries over the database: distances + top R [{outcome.profile} profile]")
    return _finish(fig, figure_dir / "query_time.png")


def _finish(fig, path: Path) -> Path:
    """Save ``fig`` to ``path`` and close it."""
    import matplotlib.pyplot as plt

    save_png(fig, path)
    plt.close(fig)
    return path
