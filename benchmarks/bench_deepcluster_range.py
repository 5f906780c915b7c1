"""Dynamic range of DeepCluster's digit stand-ins: supervised - random probe top-1 per layer.

Issue 25: with full-data probes the stand-ins saturate (random features 92.7-95.5 % top-1,
supervised 94.8-97.1 %), so no Table 1 claim can be tested. This script measures, for one
seed and the stage's ``quick`` settings read from params.yaml (5000 training images, the
quick epochs, the probe of ``probe`` with the columns' ``probe.shots``), the probe top-1 of
the random and the supervised networks on both stand-in columns -- the quantity the stage's
dynamic-range gate checks (>= 10 points at some layer) -- and, for comparison, the same
probes trained on the whole pool (``shots`` 0). It trains no DeepCluster network.

    PYTHONPATH=src REPRO_DATA_MIRRORS=... python benchmarks/bench_deepcluster_range.py \
        [--seed 0] [--out benchmarks/results/deepcluster_range.csv]
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from repro.config import build, load_params, stage_params
    from repro.papers.deepcluster import Config
    from repro.methods.deepcluster import RandomNetwork, SupervisedNetwork
    from repro.methods.linear_probe import few_shot_indices, linear_probes
    from repro.models.deepcluster_net import LAYERS, probe_model
    from repro.models.inference import predict
    from repro.papers.deepcluster import load_data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/deepcluster_range.csv")
    args = parser.parse_args()
    cfg = build(Config, stage_params(load_params(), "deepcluster", "quick")[1], where="deepcluster")
    data = {name: load_data(name) for name in ("mnist-full", "usps")}
    started = time.perf_counter()
    networks = {}
    for name, column in (("imagenet_labels", "mnist-full"), ("places_labels", "usps")):
        train = data[column].train[:cfg.train_images]
        learner = SupervisedNetwork(cfg.supervised, cfg.net, verbose=0, log=lambda _: None)
        networks[name] = learner.fit(data[column].x[train], seed=args.seed,
                                     y=data[column].y[train])
    networks["random"] = RandomNetwork(cfg.deepcluster.k, cfg.net).fit(
        data["mnist-full"].x[:1], seed=args.seed)
    rows = []
    for column in ("mnist-full", "usps"):
        col_cfg = cfg.for_dataset(column)
        d = data[column]
        pool = d.train[:col_cfg.probe_train_images] if col_cfg.probe_train_images else d.train
        high = "imagenet_labels" if column == "mnist-full" else "places_labels"
        for method in (high, "random"):
            extractor = probe_model(networks[method])
            train_f = predict(extractor, d.x[pool])
            test_f = predict(extractor, d.x[d.test])
            for shots in sorted({col_cfg.probe.shots, 0}):
                if shots:
                    pick = few_shot_indices(d.y[pool], shots, seed=args.seed)
                    pick = pick[np.resize(np.arange(len(pick)), len(pool))]
                else:
                    pick = np.arange(len(pool))
                probe = dataclasses.replace(col_cfg.probe, shots=shots)
                result = linear_probes([f[pick] for f in train_f], d.y[pool][pick], test_f,
                                       d.y[d.test], probe, seed=args.seed, names=list(LAYERS))
                for layer in LAYERS:
                    rows.append({"column": column, "method": method, "shots": shots,
                                 "layer": layer, "top1": round(result.best[layer], 4),
                                 "best_epoch": result.best_epoch[layer]})
                print(column, method, shots, {k: round(v, 3) for k, v in result.best.items()},
                      flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out} ({time.perf_counter() - started:.0f} s, seed {args.seed})")


if __name__ == "__main__":
    main()
