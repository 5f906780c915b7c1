"""Where do "same seed, other CPU, other number" differences enter? Three measurements.

The committed gapdcec/pqdec quick reports, re-run with the same code, seeds and versions on
another processor, gave identical K-means results but DEC-family ACC several points apart
(``benchmarks/results/rerun_spread/``). This script separates the two ingredients on one
machine:

1. **Kernel choice changes the bits.** The dense autoencoder of DEC is pretrained in fresh
   processes that differ only in the floating-point kernels TensorFlow uses: oneDNN on /
   off (``TF_ENABLE_ONEDNN_OPTS``) and 1 / 2 intra-op threads. Another CPU picks other
   kernels (AVX-512 vs AVX2 code paths) the same way. Reported: whether the pretrained
   weights are bit-identical, and the largest embedding difference.
2. **A re-run in the same conditions is identical**: the default configuration twice.
3. **The k-means initialisation amplifies last-bit differences.** DEC starts from k-means
   (``n_init`` restarts) on the pretrained embedding; the embedding is perturbed by relative
   noise of the size of the differences in 1 (and of float32 rounding), and the ACC of the
   k-means start is compared with the unperturbed one.

    python benchmarks/nondeterminism.py [--dataset mnist-test --epochs 8 --batch-size 64]

Writes benchmarks/results/nondeterminism.json and prints a table. Needs the real data
(REPRO_DATA_MIRRORS).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CONDITIONS = {"default": {}, "default (again)": {}, "oneDNN off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
              "1 intra-op thread": {"REPRO_BENCH_THREADS": "1"}}


def pretrain_child(dataset: str, epochs: int, batch_size: int, seed: int, out: str) -> None:
    """In a fresh process: pretrain DEC's dense AE and save its embedding of the data."""
    threads = os.environ.get("REPRO_BENCH_THREADS")
    if threads:
        import tensorflow as tf  # benchmark-only: the thread count is a TensorFlow setting

        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
    from repro.data import load
    from repro.methods.pretrain import PretrainConfig, pretrain_dense_autoencoder

    data = load(dataset)
    pre = pretrain_dense_autoencoder(data.x, PretrainConfig(epochs=epochs, batch_size=batch_size),
                                     seed=seed, verbose=0)
    _, encoder = pre.build()
    z = encoder.predict(data.x.reshape(len(data.x), -1), batch_size=1024, verbose=0)
    np.savez(out, z=z, y=data.y, weights=np.concatenate([w.ravel() for w in pre.weights]))


def kmeans_acc(z: np.ndarray, y: np.ndarray, seed: int, n_init: int) -> float:
    from repro.methods.kmeans import kmeans
    from repro.metrics import cluster_acc

    return float(cluster_acc(y, kmeans(z, int(y.max()) + 1, seed=seed, n_init=n_init).labels))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist-test")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-init", type=int, default=5)
    parser.add_argument("--perturbations", type=int, default=5)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        pretrain_child(args.dataset, args.epochs, args.batch_size, args.seed, args.child)
        return 0
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, env in CONDITIONS.items():
            out = str(Path(tmp) / f"{len(runs)}.npz")
            subprocess.run([sys.executable, __file__, "--child", out, "--dataset", args.dataset,
                            "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
                            "--seed", str(args.seed)], check=True, env={**os.environ, **env},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            runs[name] = dict(np.load(out))
    base = runs["default"]
    z, y = base["z"], base["y"]
    report = {"settings": vars(args) | {"child": None}, "kernels": {}, "kmeans_start": {}}
    for name, run in runs.items():
        report["kernels"][name] = {
            "weights_identical": bool(np.array_equal(run["weights"], base["weights"])),
            "max_abs_embedding_diff": float(np.abs(run["z"] - z).max()),
            "kmeans_start_acc": kmeans_acc(run["z"], y, args.seed, args.n_init)}
    rng = np.random.default_rng(12345)
    for scale in (1e-7, 1e-5, 1e-3):
        accs = [kmeans_acc(z * (1 + scale * rng.standard_normal(z.shape)).astype(np.float32), y,
                           args.seed, args.n_init) for _ in range(args.perturbations)]
        report["kmeans_start"][f"relative noise {scale:g}"] = {
            "acc": accs, "max_abs_diff_from_unperturbed": float(np.max(np.abs(
                np.array(accs) - report["kernels"]["default"]["kmeans_start_acc"])))}
    path = HERE / "results" / "nondeterminism.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
