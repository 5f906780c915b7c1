"""GAPDCEC (Kolla & VenuGopal, 2018): Table 1 and Figures 2-9.

The paper compares K-means, DEC, IDEC, DCN, DCEC and its GAPDCEC on MNIST-full (70000),
MNIST-test (10000) and USPS (9298) by clustering accuracy and NMI. All three datasets are
real and present, so this stage is a true reproduction; what a profile reduces (epochs,
seeds) is computed from params.yaml against the ``paper`` profile and printed in the report.

Experiment protocol (per dataset and seed):
- K-means on raw pixels, 20 restarts.
- One dense autoencoder d-500-500-2000-10 is pretrained and copied to DEC, IDEC and DCN.
  IDEC's and DCN's reference code start from DEC's pretrained autoencoder and DCN's MNIST
  network is the same d-500-500-2000-10, so one pretraining serves all three; its time is
  reported once, as ``pretrain_s`` of each method (shared).
- DCEC and GAPDCEC each pretrain their own convolutional autoencoder (they differ in the
  embedding: flatten -> dense 10 versus global average pooling -> dense 10).
- Clustering phase of DEC, IDEC, DCEC and GAPDCEC: SGD lr 0.01 momentum 0.9, update interval
  140, tol 0.1% (paper Sec. 4.1.2); DCN with its own paper's settings.
- Labels are used only to score: ACC (Hungarian), NMI and ARI; and to log ACC/NMI at every
  target update for the Fig. 4-9 curves. NMI is normalised by the geometric mean of the
  entropies: what the DEC/IDEC/DCEC code the paper ran ("existing GitHub codes") got from
  scikit-learn's default before 0.22 (see :func:`repro.metrics.nmi`).

GAPDCEC reading (the paper is loose): Eq. 3's ``sigma[(x*W) + F^k]`` is read as
conv1-conv2-conv3 (stride 2) -> global average pooling of conv3's 128 maps (Eq. 2) ->
dense 10-unit linear embedding, with DCEC's decoder unchanged ("We keep the decoder as it
is like in DCEC"); see :mod:`repro.methods.gapdcec`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar
from pathlib import Path

import numpy as np

from repro.config import to_dict
from repro.papers._common import Outcome, StageConfig, own_outputs, reduction_notes, reductions
from repro.methods.dcn import DCNConfig
from repro.methods.dcec import DCECConfig
from repro.methods.dec import DECConfig
from repro.methods.gapdcec import GAPDCECConfig
from repro.methods.idec import IDECConfig
from repro.methods.kmeans import KMeansConfig
from repro.methods.pretrain import PretrainConfig

PAPER = "gapdcec"
METHODS = ("kmeans", "dec", "idec", "dcn", "dcec", "gapdcec")
DENSE_METHODS = ("dec", "idec", "dcn")
DATASETS = ("mnist-full", "mnist-test", "usps")


@dataclass
class Config(StageConfig):
    """The stage's configuration; every field is set from params.yaml (section ``gapdcec``)."""

    datasets: tuple[str, ...] = DATASETS
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    methods: tuple[str, ...] = METHODS
    verbose: int = 2
    kmeans: KMeansConfig = field(default_factory=KMeansConfig)
    dense_dims: tuple[int, ...] = (500, 500, 2000, 10)
    dense_pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    dec: DECConfig = field(default_factory=DECConfig)
    idec: IDECConfig = field(default_factory=IDECConfig)
    dcn: DCNConfig = field(default_factory=DCNConfig)
    dcec: DCECConfig = field(default_factory=DCECConfig)
    gapdcec: GAPDCECConfig = field(default_factory=GAPDCECConfig)
    # dataset -> overrides of the keys above (e.g. fewer pretraining epochs on MNIST-full)
    per_dataset: dict[str, dict] = field(default_factory=dict)

    PAPER: ClassVar[str] = PAPER
    KNOWN_DATASETS: ClassVar[tuple[str, ...]] = DATASETS
    KNOWN_METHODS: ClassVar[tuple[str, ...]] = METHODS

    def __post_init__(self):
        self.validate()


def run_dataset(cfg: Config, dataset: str, x: np.ndarray, y: np.ndarray, seed: int, log=print):
    """All of ``cfg.methods`` on one dataset and seed -> {method: ClusteringResult}."""
    from repro.methods.dcec import run_dcec
    from repro.methods.dcn import cluster_dcn
    from repro.methods.dec import cluster_dec
    from repro.methods.idec import cluster_idec
    from repro.methods.kmeans import cluster_kmeans
    from repro.methods.pretrain import pretrain_dense_autoencoder

    cfg = cfg.for_dataset(dataset)
    k, v = int(len(np.unique(y))), cfg.verbose
    results = {}
    if "kmeans" in cfg.methods:
        log(f"[{PAPER}] {dataset} seed {seed}: K-means on raw pixels ({cfg.kmeans.n_init} restarts)")
        results["kmeans"] = cluster_kmeans(x, k, cfg.kmeans, seed=seed, y=y)
    if any(m in cfg.methods for m in DENSE_METHODS):
        log(f"[{PAPER}] {dataset} seed {seed}: pretraining the dense autoencoder "
            f"({cfg.dense_pretrain.epochs} epochs), shared by {[m for m in DENSE_METHODS if m in cfg.methods]}")
        dense = pretrain_dense_autoencoder(x, cfg.dense_pretrain, seed=seed,
                                           dims=cfg.dense_dims, verbose=v)
        clusterers = {
            "dec": lambda ae, enc: cluster_dec(enc, x, k, cfg.dec, seed=seed, y=y, verbose=v),
            "idec": lambda ae, enc: cluster_idec(ae, enc, x, k, cfg.idec, seed=seed, y=y, verbose=v),
            "dcn": lambda ae, enc: cluster_dcn(ae, enc, x, k, cfg.dcn, seed=seed, y=y, verbose=v),
        }
        for method in (m for m in DENSE_METHODS if m in cfg.methods):
            log(f"[{PAPER}] {dataset} seed {seed}: {method} clustering phase")
            result = clusterers[method](*dense.build())
            result.timings["pretrain_s"] = dense.seconds
            result.info["pretrain_loss"] = dense.loss_history
            results[method] = result
    for method, pooling in (("dcec", "flatten"), ("gapdcec", "gap")):
        if method in cfg.methods:
            method_cfg = getattr(cfg, method)
            log(f"[{PAPER}] {dataset} seed {seed}: {method} (pretraining {method_cfg.pretrain.epochs} "
                f"epochs, then clustering)")
            results[method] = run_dcec(x, k, method_cfg, pooling=pooling, seed=seed, y=y, verbose=v)
    return results


def run(cfg: Config, *, profile: str, report_dir: str | Path, figure_dir: str | Path,
        paper_cfg: Config | None = None, log=print) -> Outcome:
    """The whole experiment: every dataset, seed and method; then the report and figures."""
    from repro.data import load
    from repro.report.results import ResultsTable, histories_frame

    report_dir, figure_dir = Path(report_dir), Path(figure_dir)
    table, history_rows, wall, files = ResultsTable(), [], {}, {}
    started = time.perf_counter()
    for dataset in cfg.datasets:
        data = load(dataset)
        files[dataset] = dict(data.files)
        x = data.x
        for seed in cfg.seeds:
            for method, result in run_dataset(cfg, dataset, x, data.y, seed, log).items():
                _record(table, history_rows, wall, dataset, method, seed, result, data.y)
    wall["total_s"] = time.perf_counter() - started
    return _report(cfg, profile, table.frame(), histories_frame(history_rows), wall, files,
                   report_dir, figure_dir, paper_cfg)


def _record(table, history_rows, wall, dataset, method, seed, result, y):
    """Scores of one run -> results rows; its per-update history -> history rows."""
    from repro.metrics import ari, cluster_acc, nmi

    scores = {"acc": cluster_acc(y, result.labels), "nmi": nmi(y, result.labels),
              "ari": ari(y, result.labels)}
    table.add_metrics(dataset, method, scores, seed=seed, unit="fraction")
    seconds = {name: float(result.timings.get(name, 0.0)) for name in ("pretrain_s", "cluster_s")}
    table.add_metrics(dataset, method, seconds, seed=seed, unit="s")
    wall[f"{dataset}/{method}"] = wall.get(f"{dataset}/{method}", 0.0) + sum(seconds.values())
    for row in result.history:
        history_rows.append({"dataset": dataset, "method": method, "seed": seed, **row})


def clustering_phase_gain(histories, metric: str = "acc"):
    """Per dataset and deep method: ``metric`` at the start of the clustering phase (k-means on
    the pretrained embedding, the first history row of each run) and at its end (the last row),
    mean over seeds, with ``gain = end - start``. Separates what pretraining set from what the
    clustering phase added. Methods with a single row (K-means) are left out."""
    import pandas as pd

    rows = histories[histories[metric].notna()].sort_values("iteration", kind="stable")
    runs = rows.groupby(["dataset", "method", "seed"], sort=False)[metric].agg(["first", "last", "count"])
    runs = runs[runs["count"] > 1]
    if runs.empty:
        return pd.DataFrame(columns=["start", "end", "gain", "seeds"])
    table = runs.groupby(level=["dataset", "method"], sort=False).agg(
        start=("first", "mean"), end=("last", "mean"), seeds=("first", "size"))
    table["gain"] = table["end"] - table["start"]
    return table[["start", "end", "gain", "seeds"]]


# Paper figure numbers: Fig. 2/3 bars, Fig. 4-6 ACC curves, Fig. 7-9 NMI curves.
BAR_FIGURES = {"acc": "fig2_datasets_vs_acc", "nmi": "fig3_datasets_vs_nmi"}
CURVE_FIGURES = {("acc", "mnist-full"): "fig4", ("acc", "mnist-test"): "fig5", ("acc", "usps"): "fig6",
                 ("nmi", "mnist-full"): "fig7", ("nmi", "mnist-test"): "fig8", ("nmi", "usps"): "fig9"}


def _report(cfg, profile, results, histories, wall, files, report_dir, figure_dir, paper_cfg):
    from repro.report.provenance import collect_provenance
    from repro.report.reported import load_reported
    from repro.report.writers import write_report

    reported = load_reported(PAPER)
    changed = reductions(cfg, paper_cfg) if paper_cfg is not None else {}
    notes = reduction_notes(changed, profile)
    provenance = collect_provenance(
        profile=profile, seeds=list(cfg.seeds), datasets=files, wall_time_s=wall,
        extra={"paper": PAPER, "config": to_dict(cfg), "differs_from_paper_profile": changed,
               "shared_pretraining": "dec, idec and dcn start from one dense autoencoder "
                                     "pretrained per dataset and seed; its time is repeated in "
                                     "each one's pretrain_s"},
        own_outputs=own_outputs(PAPER))
    comparison, claims = write_report(report_dir, reported, results, notes=notes,
                                      histories_df=histories, provenance=provenance,
                                      wall_time_s=wall, include_unreported=False)
    figures = _figures(reported, comparison, histories, figure_dir)
    return Outcome(results, histories, comparison, claims, provenance, figures)


def _figures(reported, comparison, histories, figure_dir: Path) -> dict[str, Path]:
    from repro.report.figures import plot_histories, plot_reported_vs_reproduced, render_table_png
    from repro.report.writers import comparison_display_frame

    import matplotlib.pyplot as plt

    labels, figures = reported.labels(), {}
    figure_dir.mkdir(parents=True, exist_ok=True)
    for metric, name in BAR_FIGURES.items():
        path = figure_dir / f"{name}.png"
        plt.close(plot_reported_vs_reproduced(comparison, metric, path, labels=labels,
                                              title=f"Datasets vs {metric.upper()}: paper vs reproduced"))
        figures[name] = path
    for (metric, dataset), name in CURVE_FIGURES.items():
        if len(histories) and (histories["dataset"] == dataset).any():
            path = figure_dir / f"{name}_epochs_vs_{metric}_{dataset}.png"
            plt.close(plot_histories(histories, dataset, metric, path, labels=labels,
                                     value_unit="fraction", display_unit="%",
                                     title=f"Epochs vs {metric.upper()} on {labels.get(dataset, dataset)}"))
            figures[path.stem] = path
    path = figure_dir / "table1.png"
    plt.close(render_table_png(comparison_display_frame(comparison, reported), path,
                               title="Table 1: paper vs reproduced"))
    figures["table1"] = path
    return figures
