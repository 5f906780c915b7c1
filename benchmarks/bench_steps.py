"""Training-step time of each stage's networks on this device and backend, and the paper
profile's wall time projected from it.

For each network the stages train -- DEC's dense autoencoder (d-500-500-2000-10, also IDEC,
DCN, PQDEC), BQDEC's (d-500-500-2000-256), DCEC's / GAPDCEC's convolutional autoencoder, the
DQN stage's AlexNet-style convnet (fine-tuned whole, as its paper profile does, batch 64) and
DeepCluster's AlexNet-BN-Sobel (batch 256), the UCNN stage's network at its paper widths
(batch 50) and JULE's digit CNNs (28x28 and 16x16, batch 100, its triplet loss) -- a few warm-up steps, then ``--steps`` timed
training steps on batches of the stage's size, three times; the median is the step time.
Inputs are random arrays of MNIST's shape: this measures compute, not accuracy.

Projection (an upper bound): every training step the paper profile (params.yaml) asks for,
times its network's step time -- pretraining epochs x ceil(n / batch), clustering steps at their
cap (``max_iter``: the tolerance stop usually comes earlier), DCN's and PQDEC/BQDEC's epochs,
PQDEC's timing repeats -- summed over datasets and seeds. A clustering step is counted as one
autoencoder step (the clustering layer is tiny next to the network); USPS (16x16) is timed as
MNIST's 28x28, and STL-10 (absent here) is left out. K-means, target distribution updates and
evaluation are not counted. DQN: the backbone's pretraining on USPS plus every deep method's
head at every code length (and the lambda sweep), all counted as convnet steps of batch 64
(DNNH's triplets and CNNH's stage 1 cost more, KSH is not counted). DeepCluster: every epoch's
training pass plus its feature pass (an inference pass counted as 1/3 of a training step),
the supervised networks and the k ablation; the linear probes are not counted. Only the
stand-in data that runs here (the paper's ImageNet / CIFAR-10 / NUS-WIDE runs are left out).
UCNN, JULE's check (CNN-RC on the real MNIST-70000 and USPS, its paper schedule), not an
upper bound: JULE stops once the clusters reach k, so the epochs counted are its periods
(``epochs_per_period`` each) until then, the clusters starting from C_0 = n / 6 (nearest-
neighbour linking on raw pixels gives 11519 of 70000 MNIST digits, 1590 of 9298 USPS digits)
and dropping by ``ceil(eta C)`` per period; the agglomeration and feature passes are not
counted. UCNN, the stand-ins (MNIST-test 0-4: 5139 digits, MNIST-test 5-9: 4861, MNIST-train
5-9: 29404; k = 5), one seed of every method: UCNN and Baseline-I ``ucnn.epochs`` x
ceil(n / 50) steps of the UCNN at its paper widths, each counted as one measured step (which
backpropagates through every layer; theirs through FC9 and the softmax only, with one or two
forward passes); Baseline-II its ``minibatch.epochs`` feature passes; the final assignments
and Baseline-III's feature pass; DEC its autoencoder's pretraining, ``dec.max_iter`` steps
and a Q pass over the set per target update; CNN-RC JULE's periods as above with k = 5 (C_0 =
n / 6 is MNIST-70000's ratio, not measured on these sets: each period divides the clusters by
about ten, so a C_0 off by a factor of three changes the count by one period at most) and a
feature pass per period; the shared pretraining of the UCNN (5 epochs on the 30596 MNIST-train
digits 0-4) in every set's seed (it runs once a run: loose). An inference pass over a batch is
counted as 1/3 of a training step; a step on a batch larger than the measured one as
batch / measured batch steps (the pretraining's 128: 2.56 UCNN steps of 50), the Adam steps
(pretraining, DEC's autoencoder) as the measured SGD steps. On MNIST-train 5-9 the scale curve
is counted too (every method at every size up to ``scale.max_size``, mini-batch methods at
``scale.epochs``): it runs in that set's first seed only, but the figure is one per set, so it
is in every seed's (loose for the others: with the CPU step times, 26 of its 27 h); a method
stopped by the curve's budgets would run fewer sizes. Not counted: CNN-CM (no SGD step: its
filters are k-means in numpy), every k-means, JULE's agglomeration, the deformation of the
curve's digits, data loading. The paper's own sets (ILSVRC / Places, absent here) are left out.

    KERAS_BACKEND=jax python benchmarks/bench_steps.py [--steps 20] [--write-readme] [--write-json]
    python benchmarks/bench_steps.py --reproject [JSON ...]

``--write-readme`` puts the table into README.md between its ``steps`` markers.
``--write-json`` writes ``benchmarks/results/steps/<device>-<backend>.json``: the step times
and, for GAPDCEC, PQDEC and UCNN (JULE's check, the stand-ins), the projected seconds of one
seed on each dataset (:func:`per_seed_steps`), which a partial run's report shows beside its
pending cells (:mod:`repro.papers.selection`). ``--reproject [JSON ...]`` measures nothing: it
rewrites those files' ``per_seed_s`` from their stored ``step_s`` (an error names a needed
network they lack).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import numpy as np

SIZES = {"mnist-full": 70000, "mnist-test": 10000, "usps": 9298}  # STL-10: absent here, left out
RESULTS = "benchmarks/results/steps"      # --write-json: one file per device and backend
PER_SEED_PAPERS = ("gapdcec", "pqdec", "ucnn")
START, END = "<!-- steps:start (benchmarks/bench_steps.py) -->", "<!-- steps:end -->"


DQN_NET, DC_NET = "DQN convnet 28x28 (16-43-64-64-43, fc 256)", "DeepCluster AlexNet-BN-Sobel 28x28"
# JULE's check: set -> (network, input shape); both sets have 10 classes
JULE_NETS = {"mnist-full": ("JULE CNN 28x28 (MNIST)", (28, 28, 1)),
             "usps": ("JULE CNN 16x16 (USPS)", (16, 16, 1))}
JULE_CLASSES = 10
# The UCNN stand-ins (repro.data.registry: MNIST-test digits 0-4 / 5-9, MNIST-train 5-9; sizes
# from the MNIST label files) and the shared pretraining set (MNIST-train digits 0-4)
UCNN_SETS = {"mnist-test-04": 5139, "mnist-test-59": 4861, "mnist-train-59": 29404}
UCNN_PRETRAIN_IMAGES = 30596
UCNN_CLASSES = 5     # k of every stand-in (and of the scale curve's deformed digits)
UCNN_NET, DENSE_NET = "UCNN 28x28 (paper widths)", "dense AE 784-500-500-2000-10"
# the batch each network is timed at (networks()); a step of a batch b > B counts b / B steps
BATCH = {UCNN_NET: 50, DENSE_NET: 256, JULE_NETS["mnist-full"][0]: 100}
INFERENCE = 1 / 3   # an inference pass over a batch, in training steps of that batch


def networks():
    """name -> (build() -> compiled keras.Model, input shape, batch size, target: "input" | int
    classes)."""
    import keras

    from repro.models.autoencoders import conv_autoencoder, dense_autoencoder

    def compiled(model, loss="mse"):
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss=loss)
        return model

    def dqn_convnet():
        from repro.models.retrieval import BackboneConfig, build_trunk, fc_layers

        cfg = BackboneConfig()
        inputs = keras.Input((28, 28, 1))
        h = fc_layers(build_trunk((28, 28, 1), cfg)(inputs), cfg)
        top = keras.layers.Dense(32, activation="tanh")(h)   # a 32-bit head
        return compiled(keras.Model(inputs, top))

    def deepcluster_net():
        from repro.models.deepcluster_net import NetConfig, build_network

        return compiled(build_network((28, 28, 1), 100, NetConfig(), seed=0),
                        keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def ucnn_net():
        from repro.models.ucnn_net import UCNNNetConfig, build_ucnn

        return compiled(build_ucnn((28, 28, 1), 5, UCNNNetConfig(), seed=0).model,
                        keras.losses.SparseCategoricalCrossentropy())

    def jule_net(shape):
        from repro.methods.jule import JULEConfig, build_jule_network, triplet_loss

        cfg = JULEConfig()
        return compiled(build_jule_network(shape, 0), triplet_loss(cfg.gamma, cfg.margin))

    jule = {name: ((lambda shape=shape: jule_net(shape)), shape, 100, JULE_CLASSES)
            for name, shape in JULE_NETS.values()}
    return {
        DENSE_NET: (lambda: compiled(dense_autoencoder(784)[0]), (784,), BATCH[DENSE_NET], "input"),
        "dense AE 784-500-500-2000-256": (lambda: compiled(dense_autoencoder(784, (500, 500, 2000, 256))[0]),
                                          (784,), 256, "input"),
        "conv AE 28x28 (DCEC)": (lambda: compiled(conv_autoencoder((28, 28, 1))[0]), (28, 28, 1), 256,
                                 "input"),
        "conv AE 28x28 (GAPDCEC)": (lambda: compiled(conv_autoencoder((28, 28, 1), pooling="gap")[0]),
                                    (28, 28, 1), 256, "input"),
        DQN_NET: (dqn_convnet, (28, 28, 1), 64, 32),
        DC_NET: (deepcluster_net, (28, 28, 1), 256, 100),
        UCNN_NET: (ucnn_net, (28, 28, 1), BATCH[UCNN_NET], 5),
        **jule,
    }


def step_seconds(build, shape, *, batch: int, steps: int, target="input", repeats: int = 3
                 ) -> tuple[float, float]:
    """(median, spread max-min) over ``repeats`` of the mean time of one training step."""
    model = build()
    rng = np.random.default_rng(0)
    x = rng.random((batch, *shape), dtype=np.float32)
    if target == "input":
        y = x
    elif target == 32:
        y = rng.uniform(-1, 1, (batch, 32)).astype(np.float32)
    else:
        y = rng.integers(0, target, batch)
    for _ in range(3):  # compile and warm up
        model.train_on_batch(x, y)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(steps):
            loss = model.train_on_batch(x, y)
        float(np.asarray(loss))  # wait for the device
        times.append((time.perf_counter() - started) / steps)
    return statistics.median(times), max(times) - min(times)


def planned_steps(paper: str) -> dict[str, float]:
    """network -> training steps of the paper profile (see the module docstring)."""
    from repro.pipeline import stage_config

    _, cfg = stage_config(paper, "paper")
    if paper == "dqn":
        return _dqn_steps(cfg)
    if paper == "deepcluster":
        return _deepcluster_steps(cfg)
    if paper == "ucnn":
        return _jule_check_steps(cfg)
    total: dict[str, float] = {}
    for dataset in (d for d in cfg.datasets if d in SIZES):
        c = cfg.for_dataset(dataset)
        for net, k in _clustering_steps(paper, c, SIZES[dataset]).items():
            total[net] = total.get(net, 0) + k * len(c.seeds)
    return total


def _clustering_steps(paper: str, c, n: int) -> dict[str, float]:
    """network -> training steps of one seed of GAPDCEC's or PQDEC's methods on n images."""
    total: dict[str, float] = {}
    epochs = lambda e, b: e * math.ceil(n / b)  # noqa: E731
    add = lambda net, k: total.__setitem__(net, total.get(net, 0) + k)  # noqa: E731
    dense = "dense AE 784-500-500-2000-10"
    add(dense, epochs(c.dense_pretrain.epochs, c.dense_pretrain.batch_size))
    if paper == "gapdcec":
        add(dense, c.dec.max_iter + c.idec.max_iter + epochs(c.dcn.epochs, c.dcn.batch_size))
        for method, net in (("dcec", "conv AE 28x28 (DCEC)"), ("gapdcec", "conv AE 28x28 (GAPDCEC)")):
            m = getattr(c, method)
            add(net, epochs(m.pretrain.epochs, m.pretrain.batch_size) + m.max_iter)
    else:
        reps, e = c.timing_repeats, c.clustering_epochs
        add(dense, reps * 2 * epochs(e, c.dec.batch_size))  # DEC and PQDEC
        add("dense AE 784-500-500-2000-256", epochs(c.dense_pretrain.epochs, c.dense_pretrain.batch_size)
            + reps * epochs(e, c.bqdec.batch_size))
    return total


def per_seed_steps(paper: str) -> dict[str, dict[str, float]]:
    """dataset -> network -> training steps of ONE seed of the paper profile on that dataset
    (GAPDCEC and PQDEC: every method, as :func:`planned_steps`; UCNN: JULE's check and the
    stand-ins, every method, with the shared pretraining and, on the scale set, the scale
    curve)."""
    from repro.pipeline import stage_config

    _, cfg = stage_config(paper, "paper")
    if paper == "ucnn":
        totals = _jule_check_steps(cfg)       # summed over each dataset's seeds
        return {**{d: {net: totals[net] / len(cfg.for_dataset(d).seeds)}
                   for d, (net, _) in JULE_NETS.items() if d in cfg.datasets},
                **{d: _ucnn_stand_in_steps(cfg.for_dataset(d), d)
                   for d in UCNN_SETS if d in cfg.datasets}}
    return {d: _clustering_steps(paper, cfg.for_dataset(d), SIZES[d])
            for d in cfg.datasets if d in SIZES}


def _steps(net: str, steps: float, batch: int) -> float:
    """``steps`` of ``batch`` images as steps of the batch ``net`` is timed at: b / B of them
    where b > B (the measured time per image), one each where b <= B (a smaller batch costs at
    most a measured one)."""
    return steps * max(1.0, batch / BATCH[net])


def _jule_schedule(n: int, k: int, jule) -> tuple[int, int]:
    """(periods run, CNN epochs) of JULE on n images until k clusters: C_0 = n / 6, then
    ``ceil(eta C)`` fewer clusters per period of ``epochs_per_period`` epochs, at most
    ``max_epochs`` epochs (the module docstring)."""
    clusters, periods = n / 6, 0
    while clusters > k:
        clusters = max(k, clusters - math.ceil(jule.eta * clusters))
        periods += 1
    epochs = min(periods * jule.epochs_per_period, jule.max_epochs)
    return math.ceil(epochs / jule.epochs_per_period), epochs


def _ucnn_method_steps(method: str, c, n: int, k: int, epochs: int | None = None
                       ) -> dict[str, float]:
    """network -> steps of one UCNN-stage method on n images with k clusters (``epochs``: the
    scale curve's passes of the mini-batch methods), inference passes at ``INFERENCE``."""
    per = lambda batch: math.ceil(n / batch)  # noqa: E731  (batches of one pass over the set)
    one_pass = INFERENCE * per(BATCH[UCNN_NET])                    # FC9 features of the set
    if method in ("ucnn", "baseline_1"):     # SGD steps (+ their forward passes), assignment
        u = c.ucnn
        train = _steps(UCNN_NET, (epochs or u.epochs) * per(u.batch_size), u.batch_size)
        return {UCNN_NET: train + one_pass + INFERENCE}             # + the k initial images
    if method == "baseline_2":               # feature passes only, + the final assignment
        m = c.minibatch
        return {UCNN_NET: ((epochs or m.epochs) + 1) * one_pass + INFERENCE}
    if method == "baseline_3":               # one feature pass (k-means not counted)
        return {UCNN_NET: one_pass}
    if method == "dec":                      # own autoencoder, DEC at its cap, target updates
        p, d = c.dense_pretrain, c.dec
        passes = math.ceil(d.max_iter / d.update_interval) + 1      # + the initial embedding
        return {DENSE_NET: _steps(DENSE_NET, p.epochs * per(p.batch_size), p.batch_size)
                + _steps(DENSE_NET, d.max_iter, d.batch_size)
                + INFERENCE * passes * per(BATCH[DENSE_NET])}
    if method == "cnn_rc":                   # JULE's periods, one feature pass after each
        j, net = c.jule, JULE_NETS["mnist-full"][0]
        periods, jule_epochs = _jule_schedule(n, k, j)
        return {net: _steps(net, jule_epochs * per(j.batch_size), j.batch_size)
                + INFERENCE * max(periods, 1) * per(BATCH[net])}
    if method == "cnn_cm":                   # no SGD step (numpy k-means filters)
        return {}
    raise ValueError(f"bench_steps: no step count for the UCNN stage's method {method!r}")


def _ucnn_stand_in_steps(c, dataset: str) -> dict[str, float]:
    """network -> steps of ONE seed of every method on a UCNN stand-in set (paper profile),
    plus the shared pretraining of the UCNN and, on ``scale.dataset``, the scale curve (its
    first seed only runs it: counted for every seed, an upper bound; module docstring)."""
    total: dict[str, float] = {}

    def add(steps):
        for net, k_ in steps.items():
            total[net] = total.get(net, 0.0) + k_

    n, k = UCNN_SETS[dataset], UCNN_CLASSES
    n = min(n, c.subset) if c.subset else n
    for method in c.methods:
        add(_ucnn_method_steps(method, c, n, k))
    if {"ucnn", "baseline_1", "baseline_2", "baseline_3"} & set(c.methods):
        p = c.pretrain              # once a run, in the first cell that needs it
        images = min(c.pretrain_images or UCNN_PRETRAIN_IMAGES, UCNN_PRETRAIN_IMAGES)
        add({UCNN_NET: _steps(UCNN_NET, p.epochs * math.ceil(images / p.batch_size),
                              p.batch_size)})
    if dataset == c.scale.dataset:
        for size in (s for s in c.scale.sizes if s <= c.scale.max_size):
            for method in c.scale.methods:
                add(_ucnn_method_steps(method, c, size, k, epochs=c.scale.epochs))
    return total


def per_seed_seconds(step_s: dict[str, float], source: str = "the step times",
                     previous: dict | None = None) -> dict:
    """paper -> dataset -> projected seconds of one seed (:func:`per_seed_steps` x ``step_s``,
    network -> seconds per step), rounded to 0.1 s; ValueError naming a needed network that
    ``step_s`` lacks (``source``: where the step times come from, for the message).
    ``previous``: an earlier per_seed_s; a figure of it that agrees within the rounding of the
    stored step times (0.5 us a step, as --write-json writes them) and of the two figures
    (0.05 s each) is kept as it is (it came from the unrounded times)."""
    previous = previous or {}
    out = {}
    for paper in PER_SEED_PAPERS:
        out[paper] = {}
        for dataset, nets in per_seed_steps(paper).items():
            missing = sorted(net for net in nets if net not in step_s)
            if missing:
                raise ValueError(f"{source}: no step time of {', '.join(map(repr, missing))}, "
                                 f"needed for {paper} / {dataset} (measure it: bench_steps.py "
                                 "--write-json)")
            seconds = round(sum(k * step_s[net] for net, k in nets.items()), 1)
            old = previous.get(paper, {}).get(dataset)
            rounding = 0.5e-6 * sum(nets.values()) + 0.1
            if isinstance(old, (int, float)) and abs(old - seconds) <= rounding:
                seconds = old
            out[paper][dataset] = seconds
    return out


def reproject(path) -> dict:
    """Rewrite ``per_seed_s`` of a ``--write-json`` file from its stored ``step_s`` (no
    measurement; a figure unchanged but for the step times' rounding stays as it was, see
    :func:`per_seed_seconds`); the rest of the file stays as it is. Returns the new
    ``per_seed_s``; ValueError (nothing written) naming a needed network with no step time."""
    import json
    from pathlib import Path

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        step_s = {str(net): float(s) for net, s in data["step_s"].items()}
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise ValueError(f"{path}: not a bench_steps --write-json file ({exc})") from exc
    previous = data.get("per_seed_s")
    data["per_seed_s"] = per_seed_seconds(step_s, str(path),
                                          previous if isinstance(previous, dict) else None)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return data["per_seed_s"]


def write_json(rows: dict, root) -> "Path":
    """benchmarks/results/steps/<device>-<backend>.json: step times and, per paper and
    dataset, the projected seconds of one seed (an upper bound, as the README table)."""
    import json
    import re

    from repro.devices import compute_device
    from repro.report.provenance import keras_backend

    backend = keras_backend()
    device = compute_device(backend)
    per_seed = per_seed_seconds({net: s for net, (s, _) in rows.items()})
    path = root / RESULTS / f"{re.sub(r'[^a-z0-9]+', '-', device.lower()).strip('-')}-{backend}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "device": device, "backend": backend, "script": "benchmarks/bench_steps.py",
        "definition": "training steps of one seed of the paper profile (every method) x the "
                      "network's median step time; an upper bound (clustering at its step cap)",
        "step_s": {net: round(s, 6) for net, (s, _) in rows.items()},
        "per_seed_s": per_seed}, indent=1) + "\n", encoding="utf-8")
    return path


def _dqn_steps(cfg) -> dict[str, float]:
    """The backbone's pretraining on USPS (90% of 9298, its batch) and every deep method's
    fine-tuning at every code length (+ the lambda sweep), on the stand-ins (5000 training
    images each), as batch-64 convnet steps."""
    deep = [m for m in cfg.methods if m not in ("ksh", "ksh_d")]
    stand_ins = [d for d in cfg.datasets if d in ("mnist-full", "mnist-pairs")]
    pretrain = cfg.backbone.pretrain_epochs * math.ceil(0.9 * 9298 / cfg.backbone.batch_size)
    steps = 0.0
    for dataset in stand_ins:
        c = cfg.for_dataset(dataset)
        per_epoch = math.ceil(10 * c.protocol.train_per_class / c.head.batch_size)
        heads = len(deep) * len(c.bits) + max(len(c.lambda_sweep) - 1, 0)
        steps += len(c.seeds) * heads * c.head.epochs * per_epoch
    return {DQN_NET: steps + len(cfg.seeds) * pretrain}


def _deepcluster_steps(cfg) -> dict[str, float]:
    """DeepCluster's training and feature passes, the supervised networks and the k ablation
    on the stand-in (60000 MNIST-train images; USPS: 7291), as batch-256 steps."""
    c = cfg.for_dataset("mnist-full")
    n = c.train_images or 60000
    per_epoch = math.ceil(n / c.train.batch_size)
    dc = c.train.epochs * per_epoch * (1 + 1 / 3)
    supervised = c.supervised.epochs * (per_epoch + math.ceil(7291 / c.supervised.batch_size))
    ablation = len(c.ablation.k_over_classes) * (c.ablation.epochs or c.train.epochs) * per_epoch * (1 + 1 / 3)
    return {DC_NET: len(c.seeds) * (dc + supervised) + ablation}


def _jule_check_steps(cfg) -> dict[str, float]:
    """JULE's periods on MNIST-70000 and USPS until k clusters remain (see the docstring)."""
    total = {}
    for dataset in (d for d in cfg.datasets if d in JULE_NETS):
        c = cfg.for_dataset(dataset)
        _, epochs = _jule_schedule(SIZES[dataset], JULE_CLASSES, c.jule)
        total[JULE_NETS[dataset][0]] = len(c.seeds) * epochs * math.ceil(SIZES[dataset] / c.jule.batch_size)
    return total


def table(rows, projections) -> str:
    from repro.devices import compute_device
    from repro.report.provenance import keras_backend

    backend = keras_backend()
    lines = [f"Step times on {compute_device(backend)}, Keras backend {backend} (median of 3; "
             "spread = max - min):", "",
             "| network | batch | step (ms) | spread (ms) |", "|---|---|---|---|"]
    batches = {name: spec[2] for name, spec in networks().items()}
    lines += [f"| {name} | {batches[name]} | {1000 * s:.1f} | {1000 * d:.1f} |"
              for name, (s, d) in rows.items()]
    lines += ["", "| stage | paper-profile training steps | projected wall time (upper bound) |",
              "|---|---|---|"]
    lines += [f"| {label} | {int(steps):,} | {hours:.1f} h |" for label, (steps, hours) in projections.items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument("--write-json", action="store_true",
                        help=f"also write {RESULTS}/<device>-<backend>.json (per-seed projections)")
    parser.add_argument("--reproject", nargs="*", metavar="JSON",
                        help=f"measure nothing: rewrite per_seed_s of these --write-json files "
                             f"(none named: every {RESULTS}/*.json) from their stored step_s")
    args = parser.parse_args(argv)
    if args.reproject is not None:
        import json

        from repro.config import repo_root

        paths = args.reproject or sorted((repo_root() / RESULTS).glob("*.json"))
        if not paths:
            sys.exit(f"--reproject: no {RESULTS}/*.json to rewrite")
        for path in paths:
            try:
                per_seed = reproject(path)
            except ValueError as exc:
                sys.exit(f"--reproject: {exc}")
            print(f"rewrote per_seed_s of {path}: {json.dumps(per_seed)}")
        return 0
    rows = {name: step_seconds(build, shape, batch=batch, steps=args.steps, target=target)
            for name, (build, shape, batch, target) in networks().items()}
    projections = {}
    for paper in ("gapdcec", "pqdec", "dqn", "deepcluster"):
        steps = planned_steps(paper)
        projections[f"`{paper}`"] = (sum(steps.values()),
                                     sum(k * rows[net][0] for net, k in steps.items()) / 3600)
    for net, k in planned_steps("ucnn").items():   # per set: JULE's schedule, not a bound
        projections[f"`ucnn`, JULE's check only: {net}, its schedule (not a bound)"] = (
            k, k * rows[net][0] / 3600)
    text = table(rows, projections)
    print(text)
    if args.write_json:
        from repro.config import repo_root

        print(f"wrote {write_json(rows, repo_root()).relative_to(repo_root())}")
    if args.write_readme:
        from repro.config import repo_root

        readme = repo_root() / "README.md"
        content = readme.read_text(encoding="utf-8")
        if START not in content or END not in content:
            sys.exit(f"README.md lacks the markers {START} ... {END}")
        head, rest = content.split(START, 1)
        readme.write_text(f"{head}{START}\n{text}\n{END}{rest.split(END, 1)[1]}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
