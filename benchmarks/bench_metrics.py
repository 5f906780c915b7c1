"""Time the metrics at the DQN / clustering evaluation sizes.

Retrieval: n_queries x n_db binary codes (default 1000 x 64000, 48 bits, the
scale of a CIFAR-10-style protocol), Hamming ranking, mAP@R and the full
ranking mAP, precision at top R and the Hamming-radius precision-recall curve.
Clustering: cluster_acc and nmi on n_labels labels (default 70000, MNIST-full).
Synthetic codes: each class has a random prototype code and every item flips
each bit with probability --flip, so the metrics see realistic tie patterns.

    python benchmarks/bench_metrics.py [--n-queries 1000 --n-db 64000 --bits 48 --R 5000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from repro.metrics import (
    cluster_acc,
    hamming_distance,
    mean_average_precision,
    nmi,
    precision_at_top,
    precision_recall_curve,
    rank,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--n-db", type=int, default=64000)
    parser.add_argument("--bits", type=int, default=48)
    parser.add_argument("--R", type=int, default=5000, help="cutoff of mAP@R")
    parser.add_argument("--n-classes", type=int, default=10)
    parser.add_argument("--flip", type=float, default=0.25, help="bit-flip probability per code bit")
    parser.add_argument("--n-labels", type=int, default=70000, help="labels for cluster_acc / nmi")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def noisy_codes(rng, prototypes, labels, flip):
    """(n, bits) {0,1} codes: the label's prototype with each bit flipped w.p. ``flip``."""
    return prototypes[labels] ^ (rng.random((labels.size, prototypes.shape[1])) < flip)


def timed(table, name, function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    seconds = time.perf_counter() - start
    value = result if np.isscalar(result) else None
    table.append((name, seconds, value))
    return result


def run(args) -> list[tuple[str, float, float | None]]:
    rng = np.random.default_rng(args.seed)
    prototypes = rng.integers(0, 2, (args.n_classes, args.bits)).astype(bool)
    query_labels = rng.integers(0, args.n_classes, args.n_queries)
    db_labels = rng.integers(0, args.n_classes, args.n_db)
    query_codes = noisy_codes(rng, prototypes, query_labels, args.flip)
    db_codes = noisy_codes(rng, prototypes, db_labels, args.flip)

    table: list[tuple[str, float, float | None]] = []
    distances = timed(table, f"hamming_distance {args.n_queries}x{args.n_db}x{args.bits}b",
                      hamming_distance, query_codes, db_codes)
    top = timed(table, f"rank top={args.R}", rank, distances, top=args.R)
    timed(table, f"mAP@{args.R} (given ranking)", mean_average_precision,
          query_labels, db_labels, top, R=args.R)
    full = timed(table, "rank full", rank, distances)
    timed(table, "mAP full ranking (given ranking)", mean_average_precision, query_labels, db_labels, full)
    timed(table, "precision_at_top (10 cutoffs)", precision_at_top, query_labels, db_labels, full,
          np.linspace(1, args.n_db, 10).astype(int))
    timed(table, "precision_recall_curve (radii 0..bits)", precision_recall_curve, query_labels, db_labels,
          distances, radii=np.arange(args.bits + 1))

    y_true = rng.integers(0, 10, args.n_labels)
    y_pred = np.where(rng.random(args.n_labels) < 0.8, (y_true + 3) % 10, rng.integers(0, 10, args.n_labels))
    timed(table, f"cluster_acc ({args.n_labels} labels)", cluster_acc, y_true, y_pred)
    timed(table, f"nmi ({args.n_labels} labels)", nmi, y_true, y_pred)
    return table


def print_table(table) -> None:
    width = max(len(name) for name, _, _ in table)
    print(f"{'step':<{width}}  {'seconds':>8}  value")
    for name, seconds, value in table:
        shown = "" if value is None else f"{value:.4f}"
        print(f"{name:<{width}}  {seconds:8.3f}  {shown}")
    seconds = {name: value for name, value, _ in table}
    hamming = next(value for name, value in seconds.items() if name.startswith("hamming"))
    top = sum(value for name, value in seconds.items() if "top=" in name or name.startswith("mAP@"))
    full = sum(value for name, value in seconds.items() if "full" in name)
    print(f"\nHamming + rank top R + mAP@R: {hamming + top:.2f} s; "
          f"Hamming + full rank + full mAP: {hamming + full:.2f} s")


def main(argv=None) -> None:
    print_table(run(parse_args(argv)))


if __name__ == "__main__":
    main()
