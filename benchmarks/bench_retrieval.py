"""Time the DQN retrieval stage's numerical steps on synthetic data of the stage's size.

Data (random, seeded): 1000 queries and 64000 database items, ``--dim`` float32 features
(DQN's 300-d bottleneck by default), 10 random classes; 48-bit +-1 hash codes; a PQ of
M = 12 subspaces x K = 16 codewords (12 x 4 = 48 bits) fitted on 10000 database items.

Timed (median of ``--repeats`` runs, seconds):

* Hamming mAP: ``hamming_distance`` + full ``rank`` + ``mean_average_precision``;
* AQD through ``ProductQuantizer.asymmetric_distances`` (distances only, then + top-k by
  ``repro.metrics.rank``, then + full rank + mAP: the DQN evaluation with AQD ranking);
* our faster AQD (``dqn_codes.fast_asymmetric_distances``: merged look-up tables) and
  ``dqn_codes.aqd_search`` (chunked scan + top-k), single-threaded and on all cores;
* ``faiss.IndexPQ`` search (same codebooks and codes, via ``dqn_codes.faiss_index_pq``), on
  all cores and on one; and, for reference, ``faiss.IndexPQFastScan`` built from it (SIMD
  4-bit scan with 8-bit quantized tables: approximate distances, a different algorithm);
* exhaustive float distances: numpy float32 matrix product, and ``faiss.IndexFlatL2``;
* the DQN speed claim at **equal threads** (1 and all cores): every look-up-table search
  (ours, faiss IndexPQ, faiss IndexPQFastScan) and every exhaustive float search (numpy BLAS
  limited by threadpoolctl, faiss IndexFlatL2) on the same thread count; the claim's ratio
  is the fastest float search's time over the fastest look-up-table search's, both named
  (the same rule as ``repro.papers.dqn``'s ``aqd_speedup``).

The issue's targets: mAP within a few seconds; our AQD top-k within 2x of faiss IndexPQ.

    python benchmarks/bench_retrieval.py [--n-queries 1000 --n-db 64000 --dim 300 --k 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from repro.metrics import hamming_distance, mean_average_precision, rank
from repro.quantization import ProductQuantizer
from repro.quantization.dqn_codes import (
    aqd_search,
    fast_asymmetric_distances,
    faiss_index_pq,
    merge_group,
    merged_codes,
)

RESULTS = Path(__file__).resolve().parent / "results" / "bench_retrieval.json"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--n-db", type=int, default=64000)
    parser.add_argument("--dim", type=int, default=300, help="feature dimension (divisible by --m)")
    parser.add_argument("--bits", type=int, default=48, help="hash code length for the Hamming mAP")
    parser.add_argument("--m", type=int, default=12, help="PQ subspaces M")
    parser.add_argument("--codewords", type=int, default=16, help="PQ codewords per subspace K")
    parser.add_argument("--k", type=int, default=100, help="top-k of the searches")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows-per-chunk", type=int, default=4, help="aqd_search query chunk")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def timed(fn, repeats: int) -> tuple[float, list[float], object]:
    """Median wall time of ``repeats`` calls, all times, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def _shown_path(path: Path) -> str:
    """A path as a reader elsewhere can follow it: relative to the repository when inside it."""
    from repro.config import repo_root

    path = path.resolve()
    return path.relative_to(repo_root()).as_posix() if path.is_relative_to(repo_root()) else path.name


def main(argv=None) -> dict:
    args = parse_args(argv)
    import faiss

    rng = np.random.default_rng(args.seed)
    n_cores = os.cpu_count() or 1
    query_labels = rng.integers(0, args.classes, args.n_queries)
    db_labels = rng.integers(0, args.classes, args.n_db)
    query_bits = np.where(rng.random((args.n_queries, args.bits)) < 0.5, -1, 1).astype(np.int8)
    db_bits = np.where(rng.random((args.n_db, args.bits)) < 0.5, -1, 1).astype(np.int8)
    queries = rng.normal(size=(args.n_queries, args.dim)).astype(np.float32)
    db = rng.normal(size=(args.n_db, args.dim)).astype(np.float32)
    pq = ProductQuantizer(args.m, args.codewords).fit(db[: min(args.n_db, 10000)], seed=args.seed, n_iter=10)
    codes = pq.encode(db)
    group = merge_group(args.m, args.codewords)
    prepared = merged_codes(codes, args.codewords, group)
    index = faiss_index_pq(pq.codebooks, codes)
    fastscan = faiss.IndexPQFastScan(index)  # faiss' SIMD 4-bit scan (quantized tables)
    flat = faiss.IndexFlatL2(args.dim)
    flat.add(db)
    k, reps = args.k, args.repeats

    def single_thread(fn):
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return fn()
        finally:
            faiss.omp_set_num_threads(threads)

    def hamming_map():
        return mean_average_precision(query_labels, db_labels, rank(hamming_distance(query_bits, db_bits)))

    def adc_map():
        return mean_average_precision(query_labels, db_labels, rank(pq.asymmetric_distances(queries, codes)))

    def exhaustive_numpy():
        # squared distances by ||q||^2 - 2 q.x + ||x||^2 in float32, then top-k
        d = queries @ db.T
        d *= -2
        d += np.einsum("nd,nd->n", queries, queries)[:, None]
        d += np.einsum("nd,nd->n", db, db)[None, :]
        return rank(d, top=k)

    cases = {
        "hamming_distance": lambda: hamming_distance(query_bits, db_bits),
        "hamming_map_full (distance+rank+mAP)": hamming_map,
        "pq_adc_distances (ProductQuantizer.asymmetric_distances)": lambda: pq.asymmetric_distances(queries, codes),
        "pq_adc_topk (+ rank top-k)": lambda: rank(pq.asymmetric_distances(queries, codes), top=k),
        "pq_adc_map_full (+ full rank + mAP)": adc_map,
        f"fast_adc_distances (merged tables, group={group})":
            lambda: fast_asymmetric_distances(pq, queries, codes, group=group, prepared=prepared),
        "aqd_search_topk (1 thread)":
            lambda: aqd_search(pq, queries, codes, k, rows_per_chunk=args.rows_per_chunk, prepared=prepared),
        f"aqd_search_topk ({n_cores} threads)":
            lambda: aqd_search(pq, queries, codes, k, rows_per_chunk=args.rows_per_chunk,
                               n_threads=n_cores, prepared=prepared),
        "faiss_indexpq_search_topk": lambda: index.search(queries, k),
        "faiss_indexpq_1thread_search_topk": lambda: single_thread(lambda: index.search(queries, k)),
        "faiss_indexpqfastscan_search_topk (8-bit LUTs, approximate)": lambda: fastscan.search(queries, k),
        "exhaustive_numpy_float32_topk": exhaustive_numpy,
        "exhaustive_faiss_flatl2_topk": lambda: flat.search(queries, k),
    }
    results, outputs = {}, {}
    for name, fn in cases.items():
        median, times, outputs[name] = timed(fn, reps)
        results[name] = {"median_s": median, "times_s": times}
        print(f"{name:<60s} {median:8.3f} s", flush=True)

    # agreement checks between the searches
    faiss_d, faiss_i = outputs["faiss_indexpq_search_topk"]
    ours_d, ours_i = outputs["aqd_search_topk (1 thread)"]
    plain = outputs["pq_adc_distances (ProductQuantizer.asymmetric_distances)"]
    checks = {
        "faiss_vs_ours_max_abs_distance_diff": float(np.abs(faiss_d - ours_d).max()),
        "faiss_vs_ours_same_topk_sets_fraction": float(np.mean(
            [len(np.intersect1d(a, b)) / k for a, b in zip(faiss_i, ours_i)])),
        "fastscan_vs_indexpq_same_topk_sets_fraction": float(np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(
            outputs["faiss_indexpqfastscan_search_topk (8-bit LUTs, approximate)"][1], faiss_i)])),
        "fast_vs_plain_adc_max_abs_diff": float(np.abs(
            outputs[f"fast_adc_distances (merged tables, group={group})"] - plain).max()),
        "hamming_map_random_codes": float(outputs["hamming_map_full (distance+rank+mAP)"]),
        "aqd_map_random_data": float(outputs["pq_adc_map_full (+ full rank + mAP)"]),
    }
    faiss_time = results["faiss_indexpq_search_topk"]["median_s"]
    ratios = {
        "pq_adc_topk / faiss": results["pq_adc_topk (+ rank top-k)"]["median_s"] / faiss_time,
        "pq_adc_distances / faiss": results["pq_adc_distances (ProductQuantizer.asymmetric_distances)"]["median_s"] / faiss_time,
        "aqd_search 1 thread / faiss": results["aqd_search_topk (1 thread)"]["median_s"] / faiss_time,
        f"aqd_search {n_cores} threads / faiss": results[f"aqd_search_topk ({n_cores} threads)"]["median_s"] / faiss_time,
        "aqd_search 1 thread / faiss 1 thread": results["aqd_search_topk (1 thread)"]["median_s"]
        / results["faiss_indexpq_1thread_search_topk"]["median_s"],
        "faiss fastscan / faiss": results["faiss_indexpqfastscan_search_topk (8-bit LUTs, approximate)"]["median_s"]
        / faiss_time,
    }
    for name, value in {**checks, **ratios}.items():
        print(f"{name:<60s} {value:8.4f}")
    speed_claim = equal_thread_claim(pq, queries, db, codes, index, fastscan, flat, k, reps,
                                     prepared, args.rows_per_chunk, sorted({1, n_cores}))
    report = {
        "config": {key: (_shown_path(value) if isinstance(value, Path) else value)
                   for key, value in vars(args).items()},
        "machine": {"cpu_count": n_cores, "faiss_threads": faiss.omp_get_max_threads(),
                    "load_average_at_end": os.getloadavg(),
                    "platform": platform.platform(), "python": platform.python_version(),
                    "numpy": np.__version__, "faiss": faiss.__version__},
        "seconds": results,
        "ratios_to_faiss_indexpq": ratios,
        "checks": checks,
        "speed_claim_equal_threads": speed_claim,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"load average at the end: {os.getloadavg()}")
    print(f"wrote {args.out}")
    return report


def equal_thread_claim(pq, queries, db, codes, index, fastscan, flat, k, reps, prepared,
                       rows_per_chunk, thread_counts) -> dict:
    """Per thread count: every search's median seconds, and best float / best look-up table."""
    import faiss
    from threadpoolctl import threadpool_limits

    def numpy_flat():
        d = queries @ db.T
        d *= -2
        d += np.einsum("nd,nd->n", queries, queries)[:, None]
        d += np.einsum("nd,nd->n", db, db)[None, :]
        return np.argpartition(d, k - 1, axis=1)[:, :k]

    out = {}
    before = faiss.omp_get_max_threads()
    for threads in thread_counts:
        lookup = {"aqd_numpy (ours)": lambda: aqd_search(pq, queries, codes, k, rows_per_chunk=rows_per_chunk,
                                                         n_threads=threads, prepared=prepared),
                  "faiss IndexPQ": lambda: index.search(queries, k),
                  "faiss IndexPQFastScan": lambda: fastscan.search(queries, k)}
        exhaustive = {"numpy BLAS float32": numpy_flat, "faiss IndexFlatL2": lambda: flat.search(queries, k)}
        faiss.omp_set_num_threads(threads)
        try:
            with threadpool_limits(limits=threads):
                seconds = {name: timed(fn, reps)[0] for name, fn in {**lookup, **exhaustive}.items()}
        finally:
            faiss.omp_set_num_threads(before)
        best_lut = min(lookup, key=seconds.get)
        best_flat = min(exhaustive, key=seconds.get)
        out[f"{threads} threads"] = {"seconds": seconds, "best_lookup": best_lut, "best_exhaustive": best_flat,
                                     "speedup": seconds[best_flat] / seconds[best_lut]}
        print(f"{threads} thread(s): best look-up table {best_lut} {seconds[best_lut]:.4f} s, best exhaustive "
              f"{best_flat} {seconds[best_flat]:.4f} s: speed-up {seconds[best_flat] / seconds[best_lut]:.2f}x",
              flush=True)
    return out


if __name__ == "__main__":
    main()
