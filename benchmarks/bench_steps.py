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
UCNN: only JULE's check (CNN-RC on the real MNIST-70000 and USPS, its paper schedule), not an
upper bound: JULE stops once the clusters reach k, so the epochs counted are its periods
(``epochs_per_period`` each) until then, the clusters starting from C_0 = n / 6 (nearest-
neighbour linking on raw pixels gives 11519 of 70000 MNIST digits, 1590 of 9298 USPS digits)
and dropping by ``ceil(eta C)`` per period; the agglomeration and feature passes are not
counted. The rest of the UCNN stage (the stand-in tables and the scale curve) is not projected.

    KERAS_BACKEND=jax python benchmarks/bench_steps.py [--steps 20] [--write-readme] [--write-json]

``--write-readme`` puts the table into README.md between its ``steps`` markers.
``--write-json`` writes ``benchmarks/results/steps/<device>-<backend>.json``: the step times
and, for GAPDCEC, PQDEC and UCNN's JULE check, the projected seconds of one seed on each
dataset (:func:`per_seed_steps`), which a partial run's report shows beside its pending cells
(:mod:`repro.papers.selection`).
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
        "dense AE 784-500-500-2000-10": (lambda: compiled(dense_autoencoder(784)[0]), (784,), 256, "input"),
        "dense AE 784-500-500-2000-256": (lambda: compiled(dense_autoencoder(784, (500, 500, 2000, 256))[0]),
                                          (784,), 256, "input"),
        "conv AE 28x28 (DCEC)": (lambda: compiled(conv_autoencoder((28, 28, 1))[0]), (28, 28, 1), 256,
                                 "input"),
        "conv AE 28x28 (GAPDCEC)": (lambda: compiled(conv_autoencoder((28, 28, 1), pooling="gap")[0]),
                                    (28, 28, 1), 256, "input"),
        DQN_NET: (dqn_convnet, (28, 28, 1), 64, 32),
        DC_NET: (deepcluster_net, (28, 28, 1), 256, 100),
        "UCNN 28x28 (paper widths)": (ucnn_net, (28, 28, 1), 50, 5),
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
    (GAPDCEC and PQDEC: every method, as :func:`planned_steps`; UCNN: JULE's check only)."""
    from repro.pipeline import stage_config

    _, cfg = stage_config(paper, "paper")
    if paper == "ucnn":
        totals = _jule_check_steps(cfg)       # summed over each dataset's seeds
        return {d: {net: totals[net] / len(cfg.for_dataset(d).seeds)}
                for d, (net, _) in JULE_NETS.items() if d in cfg.datasets}
    return {d: _clustering_steps(paper, cfg.for_dataset(d), SIZES[d])
            for d in cfg.datasets if d in SIZES}


def write_json(rows: dict, root) -> "Path":
    """benchmarks/results/steps/<device>-<backend>.json: step times and, per paper and
    dataset, the projected seconds of one seed (an upper bound, as the README table)."""
    import json
    import re

    from repro.devices import compute_device
    from repro.report.provenance import keras_backend

    backend = keras_backend()
    device = compute_device(backend)
    per_seed = {paper: {dataset: round(sum(k * rows[net][0] for net, k in nets.items()), 1)
                        for dataset, nets in per_seed_steps(paper).items()}
                for paper in PER_SEED_PAPERS}
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
        clusters, periods = SIZES[dataset] / 6, 0
        while clusters > JULE_CLASSES:
            clusters = max(JULE_CLASSES, clusters - math.ceil(c.jule.eta * clusters))
            periods += 1
        epochs = min(periods * c.jule.epochs_per_period, c.jule.max_epochs)
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
    args = parser.parse_args(argv)
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
