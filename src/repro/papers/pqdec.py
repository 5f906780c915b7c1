"""PQDEC (Kolla & VenuGopal): clustering speed and memory, Table 1 and Figures 2-4.

The paper claims that product-quantizing DEC's embedding (PQDEC) clusters faster and with
less memory than K-means, K-medoids, KDK-means, DEC and its binary sibling BQDEC, "without
affecting the cluster accuracy", on MNIST-full, MNIST-test and STL-10.

One measurement definition for every method (stated in the report):
- **Clustering speed**: wall-clock seconds of the clustering phase, 10 clustering epochs
  (the paper's "with respect to 10 number of epochs"), data already in memory, pretraining
  excluded (reported separately as ``pretrain_s``). An epoch is one pass over all points:
  one Lloyd / Voronoi iteration for K-means, KDK-means and K-medoids; one pass of
  mini-batch training (plus the method's own target / code-clustering updates) for DEC,
  BQDEC and PQDEC. No early stop (tol = 0) so every method does exactly 10 epochs, except
  K-medoids, which stops when its medoids no longer change (the iterations run are recorded).
- **Memory consumption**: peak resident memory of the process during the clustering phase
  minus the resident memory just before it, in MB (2^20 bytes), sampled every 2 ms by
  :mod:`repro.measure`; the same meter for numpy, faiss and Keras code.
- **ACC and NMI** of every method after its 10 epochs, to judge "without affecting the
  cluster accuracy".
Absolute seconds and MB depend on the machine; the claims are orderings judged on numbers
measured in one run on one machine.

Method readings (see each module's docstring): KDK-means = k-means with Kanungo et al.'s
k-d tree filtering (the paper does not define it); K-medoids = the alternating (Voronoi
iteration) algorithm with chunked distances (no n x n matrix); BQDEC = a 256-unit embedding
binarised by sign (code value a * sign(z), a = mean |z| per unit; the decoder reads the code, as
the paper's Eq. 2), clustered by binary k-means (Hamming); PQDEC = DEC's 10-d embedding
split into 4 sub-vectors (3, 3, 2, 2 dims) of 8-bit codes, clustered by PQ k-means.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import ClassVar
from pathlib import Path

import numpy as np

from repro.config import to_dict
from repro.papers._common import Outcome, StageConfig, own_outputs, reduction_notes, reductions
from repro.methods.bqdec import BQDECConfig
from repro.methods.dec import DECConfig
from repro.methods.kdkmeans import KDKMeansConfig
from repro.methods.kmeans import KMeansConfig
from repro.methods.kmedoids import KMedoidsConfig
from repro.methods.pqdec import PQDECConfig
from repro.methods.pretrain import PretrainConfig

PAPER = "pqdec"
METHODS = ("kmeans", "kmedoids", "kdkmeans", "dec", "bqdec", "pqdec")
DATASETS = ("mnist-full", "mnist-test", "stl-10")


@dataclass
class Config(StageConfig):
    """The stage's configuration; every field is set from params.yaml (section ``pqdec``)."""

    datasets: tuple[str, ...] = DATASETS
    seeds: tuple[int, ...] = (0, 1, 2)
    methods: tuple[str, ...] = METHODS
    clustering_epochs: int = 10
    verbose: int = 2
    kmeans: KMeansConfig = field(default_factory=lambda: KMeansConfig(n_init=1, tol=0.0))
    kmedoids: KMedoidsConfig = field(default_factory=KMedoidsConfig)
    kdkmeans: KDKMeansConfig = field(default_factory=lambda: KDKMeansConfig(tol=0.0))
    dense_dims: tuple[int, ...] = (500, 500, 2000, 10)
    bqdec_dims: tuple[int, ...] = (500, 500, 2000, 256)
    dropout: float = 0.2
    dense_pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    dec: DECConfig = field(default_factory=lambda: DECConfig(tol=0.0))
    bqdec: BQDECConfig = field(default_factory=lambda: BQDECConfig(tol=0.0))
    pqdec: PQDECConfig = field(default_factory=lambda: PQDECConfig(tol=0.0))
    top_images: int = 10
    per_dataset: dict[str, dict] = field(default_factory=dict)

    PAPER: ClassVar[str] = PAPER
    KNOWN_DATASETS: ClassVar[tuple[str, ...]] = DATASETS
    KNOWN_METHODS: ClassVar[tuple[str, ...]] = METHODS

    def __post_init__(self):
        self.validate()
        if self.clustering_epochs < 1:
            raise ValueError(f"clustering_epochs must be >= 1, got {self.clustering_epochs}")


def epochs_to_settings(cfg: Config, n: int) -> Config:
    """``cfg`` with every method set to run exactly ``clustering_epochs`` epochs on n points."""
    e = cfg.clustering_epochs
    steps = e * -(-n // cfg.dec.batch_size)
    return dataclasses.replace(
        cfg, kmeans=dataclasses.replace(cfg.kmeans, max_iter=e),
        kmedoids=dataclasses.replace(cfg.kmedoids, max_iter=e),
        kdkmeans=dataclasses.replace(cfg.kdkmeans, max_iter=e),
        dec=dataclasses.replace(cfg.dec, max_iter=steps),
        bqdec=dataclasses.replace(cfg.bqdec, max_epochs=e),
        pqdec=dataclasses.replace(cfg.pqdec, max_epochs=e))


# The pretrained autoencoder each deep method starts from (raw-pixel methods need none).
PRETRAINED_FOR = {"dec": "dense", "pqdec": "dense", "bqdec": "binary"}


def _clusterers(cfg: Config, x, k, seed, y):
    """method -> call(*pretrained (autoencoder, encoder)) -> ClusteringResult."""
    from repro.methods.bqdec import cluster_bqdec
    from repro.methods.dec import cluster_dec
    from repro.methods.kdkmeans import cluster_kdkmeans
    from repro.methods.kmeans import cluster_kmeans
    from repro.methods.kmedoids import cluster_kmedoids
    from repro.methods.pqdec import cluster_pqdec

    v = cfg.verbose
    return {
        "kmeans": lambda: cluster_kmeans(x, k, cfg.kmeans, seed=seed, y=y),
        "kmedoids": lambda: cluster_kmedoids(x, k, cfg.kmedoids, seed=seed, y=y),
        "kdkmeans": lambda: cluster_kdkmeans(x, k, cfg.kdkmeans, seed=seed, y=y),
        "dec": lambda ae, enc: cluster_dec(enc, x, k, cfg.dec, seed=seed, y=y, verbose=v),
        "bqdec": lambda ae, enc: cluster_bqdec(ae, enc, x, k, cfg.bqdec, seed=seed, y=y, verbose=v),
        "pqdec": lambda ae, enc: cluster_pqdec(ae, enc, x, k, cfg.pqdec, seed=seed, y=y, verbose=v),
    }


def _pretrained(cfg: Config, x, seed, log):
    """The pretrained autoencoders the deep methods need: {"dense": ..., "binary": ...}.

    Pretraining uses dropout (paper IV.B.2: "dropout 20%"); the copies handed to the
    clustering phase are rebuilt without it (DEC drops dropout after pretraining).
    """
    from repro.methods.pretrain import pretrain_dense_autoencoder

    dims = {"dense": cfg.dense_dims, "binary": cfg.bqdec_dims}
    needs = {PRETRAINED_FOR[m] for m in cfg.methods if m in PRETRAINED_FOR}
    out = {}
    for need in sorted(needs):
        log(f"[{PAPER}] pretraining the {need} autoencoder {dims[need]} "
            f"({cfg.dense_pretrain.epochs} epochs, dropout {cfg.dropout})")
        pre = pretrain_dense_autoencoder(x, cfg.dense_pretrain, seed=seed, dims=dims[need],
                                         dropout=cfg.dropout, verbose=cfg.verbose)
        out[need] = dataclasses.replace(pre, build_kwargs={**pre.build_kwargs, "dropout": 0.0})
    return out


def run_dataset(cfg: Config, dataset: str, x, y, seed: int, log=print):
    """Every method on one dataset and seed -> {method: (ClusteringResult, Measurement)}."""
    from repro.measure import measure

    cfg = epochs_to_settings(cfg.for_dataset(dataset), len(x))
    k = int(len(np.unique(y)))
    pretrained = _pretrained(cfg, x, seed, log)
    out = {}
    for method, call in _clusterers(cfg, x, k, seed, y).items():
        if method not in cfg.methods:
            continue
        need = PRETRAINED_FOR.get(method)
        log(f"[{PAPER}] {dataset} seed {seed}: {method}, {cfg.clustering_epochs} clustering epochs")
        models = pretrained[need].build() if need else ()
        measurement = measure(call, *models)
        measurement.result.timings["pretrain_s"] = pretrained[need].seconds if need else 0.0
        out[method] = (measurement.result, measurement)
    return out


def run(cfg: Config, *, profile: str, report_dir: str | Path, figure_dir: str | Path,
        paper_cfg: Config | None = None, log=print) -> Outcome:
    """The whole experiment: every dataset present, seed and method; then report and figures."""
    from repro.data import DatasetError, load
    from repro.report.results import ResultsTable, histories_frame

    table, history_rows, wall, files, not_run, top = ResultsTable(), [], {}, {}, {}, None
    started = time.perf_counter()
    for dataset in cfg.datasets:
        try:
            data = load(dataset)
        except DatasetError as exc:
            not_run[dataset] = f"not run: {dataset} data absent"
            log(f"[{PAPER}] {dataset}: {not_run[dataset]} ({str(exc).splitlines()[0]})")
            continue
        files[dataset] = dict(data.files)
        for seed in cfg.seeds:
            for method, (result, meas) in run_dataset(cfg, dataset, data.x, data.y, seed, log).items():
                _record(table, history_rows, wall, dataset, method, seed, result, meas, data.y)
                if (dataset, method, seed) == ("mnist-full", "pqdec", cfg.seeds[0]):
                    top = top_images(data.x, result, cfg.top_images)
    wall["total_s"] = time.perf_counter() - started
    return _report(cfg, profile, table.frame(), histories_frame(history_rows), wall, files,
                   not_run, top, Path(report_dir), Path(figure_dir), paper_cfg)


def _record(table, history_rows, wall, dataset, method, seed, result, meas, y):
    from repro.metrics import ari, cluster_acc, nmi

    table.add_metrics(dataset, method, {"acc": cluster_acc(y, result.labels),
                                        "nmi": nmi(y, result.labels), "ari": ari(y, result.labels)},
                      seed=seed, unit="fraction")
    table.add_metrics(dataset, method, {"time_s": meas.seconds,
                                        "pretrain_s": float(result.timings.get("pretrain_s", 0.0))},
                      seed=seed, unit="s")
    table.add(dataset, method, "memory_mb", meas.peak_mb, seed=seed, unit="MB")
    wall[f"{dataset}/{method}"] = wall.get(f"{dataset}/{method}", 0.0) + meas.seconds
    for row in result.history:
        history_rows.append({"dataset": dataset, "method": method, "seed": seed, **row})


def top_images(x, result, n_top: int) -> np.ndarray | None:
    """Fig. 2: per PQDEC cluster, the ``n_top`` members whose PQ code is nearest its centre.

    Distances are PQ k-means' own symmetric distances (code to centre code, through the
    final codebooks). Returns (K, n_top, h, w, c) images (fewer members -> blank), or None.
    """
    from repro.quantization import ProductQuantizer, symmetric_distances_to_centres

    info = result.info
    if not {"codes", "centres", "codebooks"} <= set(info):
        return None
    tables = ProductQuantizer.from_codebooks(info["codebooks"]).symmetric_distance_tables()
    dist = symmetric_distances_to_centres(tables, info["codes"], info["centres"])
    labels = result.labels
    grid = np.zeros((len(info["centres"]), n_top) + x.shape[1:], dtype=x.dtype)
    for j in range(len(info["centres"])):  # a loop over the K clusters, not over samples
        members = np.flatnonzero(labels == j)
        best = members[np.argsort(dist[members, j], kind="stable")[:n_top]]
        grid[j, :len(best)] = x[best]
    return grid


FIGURES = {"time_s": "fig3_clustering_speed", "memory_mb": "fig4_memory_consumption"}


def _report(cfg, profile, results, histories, wall, files, not_run, top, report_dir, figure_dir,
            paper_cfg):
    from repro.report.provenance import collect_provenance
    from repro.report.reported import load_reported
    from repro.report.writers import write_report

    reported = load_reported(PAPER)
    changed = reductions(cfg, paper_cfg) if paper_cfg is not None else {}
    notes = {**reduction_notes({d: c for d, c in changed.items() if d not in not_run}, profile),
             **{(dataset, "*"): why for dataset, why in not_run.items()}}
    provenance = collect_provenance(
        profile=profile, seeds=list(cfg.seeds), datasets=files, wall_time_s=wall,
        extra={"paper": PAPER, "config": to_dict(cfg), "differs_from_paper_profile": changed,
               "not_run": not_run, "measurement": MEASUREMENT},
        own_outputs=own_outputs(PAPER))
    comparison, claims = write_report(report_dir, reported, results, notes=notes,
                                      histories_df=histories, provenance=provenance,
                                      wall_time_s=wall)
    figures = _figures(reported, comparison, top, figure_dir)
    return Outcome(results, histories, comparison, claims, provenance, figures, not_run)


MEASUREMENT = ("time_s: wall-clock seconds of the clustering phase (10 clustering epochs, data in "
               "memory, pretraining excluded); memory_mb: peak resident memory during the "
               "clustering phase minus the resident memory just before it, MB = 2^20 bytes, "
               "sampled every 2 ms (repro.measure)")


def _figures(reported, comparison, top, figure_dir: Path) -> dict[str, Path]:
    import matplotlib.pyplot as plt

    from repro.report.figures import plot_reported_vs_reproduced, render_table_png
    from repro.report.writers import comparison_display_frame

    labels, figures = reported.labels(), {}
    figure_dir.mkdir(parents=True, exist_ok=True)
    for metric, name in FIGURES.items():
        path = figure_dir / f"{name}.png"
        plt.close(plot_reported_vs_reproduced(
            comparison, metric, path, x="method", labels=labels, log_y=True,
            title=f"{labels.get(metric, metric)} vs clustering method: paper vs reproduced"))
        figures[name] = path
    if top is not None:
        figures["fig2_top10_mnist-full"] = _plot_top_images(top, figure_dir / "fig2_top10_mnist-full.png")
    path = figure_dir / "table1.png"
    plt.close(render_table_png(comparison_display_frame(comparison, reported), path,
                               title="Table 1: paper vs reproduced (speed: s, memory: MB)"))
    figures["table1"] = path
    return figures


def _plot_top_images(grid: np.ndarray, path: Path) -> Path:
    """Fig. 2: one row per PQDEC cluster, its top images left to right."""
    import matplotlib.pyplot as plt

    from repro.report.figures import save_png

    n_clusters, n_top = grid.shape[:2]
    fig, axes = plt.subplots(n_clusters, n_top, figsize=(n_top * 0.8, n_clusters * 0.8), squeeze=False)
    for (j, i), ax in np.ndenumerate(axes):
        ax.imshow(grid[j, i].squeeze(), cmap="gray" if grid.shape[-1] == 1 else None)
        ax.set_xticks([]), ax.set_yticks([])
        if i == 0:
            ax.set_ylabel(f"{j}", rotation=0, labelpad=10)
    fig.suptitle("Top 10 images of each PQDEC cluster, MNIST-full (nearest PQ codes to the centre)")
    save_png(fig, path)
    plt.close(fig)
    return path
