"""Time our PQ k-means against the C++ reference (``pqkmeans``, Matsui et al. 2017) on the same codes.

Data: MNIST-full raw pixels (70000 x 784, via ``repro.data.load``; set
REPRO_DATA_MIRRORS=../shared/data offline) projected with PCA to ``--dim`` dimensions, or
``--data random`` Gaussian vectors. The projection is product-quantized once with our
ProductQuantizer (M=4 x 8 bits as in PQDEC), and both implementations cluster the same codes
with the same codebooks (K=10, 10 iterations). PQDEC's embedding is 10-d, which 4 equal
subspaces cannot split, hence the default ``--dim 12``.

Reported: wall time of fit (best of ``--repeats``) and of predict, the SDC objective per code,
ACC / NMI against the digit labels, and the agreement of the two labelings (ACC and NMI
between them) from each one's own random start and from the same start (pqkmeans'
initial centres, read from a 1-iteration run, passed to ours).

    python benchmarks/bench_pqkmeans.py [--data mnist-full|random --dim 12 --k 10 --n-iter 10]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from repro.metrics import cluster_acc, nmi
from repro.quantization import PQKMeans, ProductQuantizer


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", choices=("mnist-full", "random"), default="mnist-full")
    parser.add_argument("--n-random", type=int, default=70000, help="vectors for --data random")
    parser.add_argument("--dim", type=int, default=12, help="PCA dimensions (divisible by --m)")
    parser.add_argument("--m", type=int, default=4, help="PQ subspaces M")
    parser.add_argument("--l", type=int, default=256, help="codewords per subspace L (<= 256 for pqkmeans)")
    parser.add_argument("--k", type=int, default=10, help="clusters")
    parser.add_argument("--n-iter", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def embedding(args) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(n, dim) float32 vectors, their labels (or None) and a line saying what they are."""
    if args.data == "random":
        x = np.random.default_rng(args.seed).normal(size=(args.n_random, args.dim)).astype(np.float32)
        return x, None, f"random N(0, 1) vectors {x.shape} (no labels)"
    from sklearn.decomposition import PCA

    from repro.data import load

    dataset = load("mnist-full")
    pixels = dataset.x.reshape(len(dataset.x), -1)
    x = PCA(args.dim, random_state=args.seed).fit_transform(pixels).astype(np.float32)
    return x, dataset.y, f"MNIST-full raw pixels {pixels.shape} -> PCA {x.shape}"


def best_time(repeats: int, function):
    """(smallest wall time in seconds over ``repeats`` calls, result of the last call)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


class _Codewords:
    """The one attribute pqkmeans.clustering.PQKMeans reads from its encoder."""

    def __init__(self, codebooks):
        self.codewords = codebooks.astype(np.float64)


def reference_fit(pqkmeans, codebooks, codes, k, iteration):
    model = pqkmeans.clustering.PQKMeans(_Codewords(codebooks), k=k, iteration=iteration)
    model.fit(codes)
    return model


def sdc_objective(tables, codes, labels, centres) -> float:
    """Mean symmetric distance of each code to its centre."""
    total = sum(tables[m][codes[:, m], centres[labels, m]].sum(dtype=np.float64) for m in range(len(tables)))
    return float(total / len(codes))


def scores(y, labels) -> tuple[str, str]:
    return ("-", "-") if y is None else (f"{cluster_acc(y, labels):.4f}", f"{nmi(y, labels):.4f}")


def run(args) -> None:
    x, y, description = embedding(args)
    pq = ProductQuantizer(args.m, args.l)
    fit_seconds, _ = best_time(1, lambda: pq.fit(x, seed=args.seed))
    encode_seconds, codes = best_time(1, lambda: pq.encode(x))
    tables = pq.symmetric_distance_tables()
    print(f"data: {description}; PQ M={args.m} x L={args.l} fit {fit_seconds:.2f}s, encode "
          f"{encode_seconds:.2f}s, quantization error {pq.quantization_error(x):.4g}")
    print(f"K={args.k}, n_iter={args.n_iter}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"cpus={os.cpu_count()}\n")
    ours_seconds, ours = best_time(args.repeats, lambda: PQKMeans(
        pq, args.k, n_iter=args.n_iter, seed=args.seed).fit(codes))
    ours_predict, _ = best_time(args.repeats, lambda: ours.predict(codes))
    rows = [("ours (numpy)", ours_seconds, ours_predict, ours.n_iter_,
             sdc_objective(tables, codes, ours.labels_, ours.centres_), *scores(y, ours.labels_))]
    try:
        import pqkmeans
    except ImportError:
        print_rows(rows)
        print("\npqkmeans is not installed: no reference timing (pip install pqkmeans==1.0.6)")
        return
    ref_seconds, ref = best_time(
        args.repeats, lambda: reference_fit(pqkmeans, pq.codebooks, codes, args.k, args.n_iter))
    ref_predict, _ = best_time(1, lambda: ref.predict(codes))
    ref_labels, ref_centres = np.asarray(ref.labels_), np.asarray(ref.cluster_centers_, dtype=codes.dtype)
    rows.append(("pqkmeans 1.0.6 (C++)", ref_seconds, ref_predict, args.n_iter,
                 sdc_objective(tables, codes, ref_labels, ref_centres), *scores(y, ref_labels)))
    print_rows(rows)
    print_agreement(args, pq, codes, ours.labels_, ref_labels, pqkmeans)


def print_rows(rows) -> None:
    header = (f"{'implementation':<22} {'fit s':>8} {'predict s':>10} {'iters':>6} "
              f"{'SDC/code':>10} {'ACC':>7} {'NMI':>7}")
    print(header + "\n" + "-" * len(header))
    for name, fit_s, predict_s, iters, objective, acc, nmi_value in rows:
        print(f"{name:<22} {fit_s:8.3f} {predict_s:10.3f} {iters:6d} {objective:10.4f} "
              f"{acc:>7} {nmi_value:>7}")


def print_agreement(args, pq, codes, ours_labels, ref_labels, pqkmeans) -> None:
    one_step = reference_fit(pqkmeans, pq.codebooks, codes, args.k, 1)  # centres = its start
    initial = np.asarray(one_step.cluster_centers_, dtype=codes.dtype)
    same_start = PQKMeans(pq, args.k, n_iter=args.n_iter).fit(codes, init_centres=initial)
    print("\nagreement of the two labelings     ACC      NMI   identical labels")
    for name, labels in (("own random starts", ours_labels), ("same start (theirs)", same_start.labels_)):
        print(f"  {name:<30} {cluster_acc(ref_labels, labels):.4f}  {nmi(ref_labels, labels):.4f}  "
              f"{np.mean(ref_labels == labels):.4f}")


def main(argv=None) -> None:
    run(parse_args(argv))


if __name__ == "__main__":
    main()
