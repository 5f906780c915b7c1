"""One experiment runner for every paper: :func:`run`.

A paper module (``repro.papers.<paper>``) holds only what differs between papers:

==================  =====================================================================
``PAPER``           its key ("gapdcec"), also the name of its YAML and notebook
``Config``          its typed config (a :class:`~repro.papers._common.StageConfig`)
``run_cell(cell)``  runs one (dataset, seed, method) :class:`Cell` and records its numbers
``figures(outcome, figure_dir)``  its own figures -> {name: path} (optional)
``settings(cfg, data)``  the settings that actually run on ``data`` (optional; e.g. PQDEC
                    derives every method's iteration cap from its 10-epoch protocol)
``BUDGET``          {dotted config key: label} of the knobs whose reduction a verdict must
                    name ("dense_pretrain.epochs": "dense AE pretraining epochs")
``NOTES``           {provenance key: text} facts the report states (optional)
``METHOD_NOTES``    {method: note} for methods of the paper's tables the stage does not run
                    ("not run: another paper's method"); shown beside their cells (optional)
``load_data(name)`` the dataset loader (optional; default :func:`repro.data.load`)
``REPORTED``        its reported-numbers YAML (optional; default ``papers/<PAPER>.yaml``)
==================  =====================================================================

The runner owns the rest, once for every paper: both configs (the chosen profile and the
``paper`` profile) from params.yaml; the dataset x seed x method loop (``per_dataset`` may
give a dataset its own seeds and methods); a dataset whose
files are absent -> "not run: <dataset> data absent" cells; wall times; results and
histories; the profile's differences from the paper's protocol; the re-run spread; the
provenance; the atomic report write; the Table figure; and all run state: work several cells
use (a pretrained network, a dataset's features) is ``cell.shared(name, compute, scope=...,
key=...)``, computed once per scope ("seed": the (dataset, seed); "dataset": its seeds; "run")
and key (every setting the value depends on), dropped when its scope ends. A paper module
keeps no mutable state of its own, and no cell reads another cell's results.

**Wall time, one definition for every stage** (``provenance.wall_time_s``): the wall-clock
seconds of a method's own work in its cells, summed over seeds, as ``<dataset>/<method>``;
work shared by several methods (a pretrained autoencoder) is timed once, as
``<dataset>/shared: <name>``, and counted in no method; ``total_s`` is the whole run.

The training log (Keras progress, the stage's lines, TensorFlow's start-up messages) goes to
``<report_dir>/run.log``, not into the notebook.

**Several accelerators**: with ``REPRO_DATA_PARALLEL=1`` on the JAX backend the runner installs
``keras.distribution.DataParallel`` over every visible device before any model is built
(:mod:`repro.distribution`), so every stage's ``fit`` / ``predict`` splits its batches across
them; every ``batch_size`` of the config is checked to split evenly first, and the provenance
says what was done (``data_parallel``).
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Mapping

from repro.report.results import ResultsTable

WALL_TIME_DEFINITION = (
    "<dataset>/<method>: wall-clock seconds of the method's own work in its cells, summed over "
    "seeds (and repeats); work shared by several methods (a pretrained autoencoder) is timed "
    "once as <dataset>/shared: <name> and counted in no method; total_s: the whole run (with a cell store: this run's seconds plus "
    "the stored seconds of the cells it loaded, their shared work included)")
SHARED_SCOPES = ("seed", "dataset", "run")   # how long a Cell.shared value lives
EXECUTORS = ("local", "ray")


@dataclass
class Cell:
    """One (dataset, seed, method) of a paper's experiment, handed to its ``run_cell``.

    ``cfg`` is the paper's config with the dataset's overrides and the paper's ``settings``
    applied: the settings that run. Record numbers with :meth:`record` (any shape: a variant
    such as "32" bits or "conv3", repeats of a timing) or :meth:`record_clustering`.
    """

    paper: str
    dataset: str
    seed: int
    method: str
    cfg: Any
    data: Any                      # repro.data.Dataset: x, y, files
    log: Callable[[str], None]
    _run: "RunState"

    def record(self, metric: str, value: float, *, unit: str, variant: str = "",
               repeat: int = 0, method: str | None = None) -> None:
        """One reproduced number of this cell's method (``method``: of a reference measured
        in this cell beside it, e.g. the float features DQN's codes replace)."""
        self._run.out.table.add(self.dataset, method or self.method, metric, value,
                                seed=self.seed, unit=unit, variant=str(variant), repeat=repeat)

    def record_history(self, rows, *, variant: str = "") -> None:
        """Per-epoch rows (dicts with iteration, epoch and metrics) of this cell's method."""
        for row in rows:
            self._run.out.histories.append({"dataset": self.dataset, "method": self.method,
                                            "variant": str(variant), "seed": self.seed, **row})

    def record_clustering(self, result, *, variant: str = "", timings=("pretrain_s", "cluster_s")
                          ) -> None:
        """A :class:`~repro.methods.base.ClusteringResult`: ACC, NMI and ARI against the
        labels (:func:`repro.metrics.clustering_scores`), the named timings and its history."""
        from repro.metrics import clustering_scores

        scores = clustering_scores(self.data.y, result.labels)
        self._run.out.table.add_metrics(self.dataset, self.method, scores, seed=self.seed,
                                        unit="fraction", variant=str(variant))
        for name in timings:
            if name in result.timings:
                self.record(name, float(result.timings[name]), unit="s", variant=variant)
        self.record_history(result.history, variant=variant)

    def shared(self, name: str, compute: Callable[[], Any], *, scope: str = "seed",
               key: Hashable = ()) -> Any:
        """``compute()`` once per ``scope`` and ``key``, shared by every cell that asks for
        ``name`` with that ``key``; its time is ``<dataset>/shared: <name>`` (the dataset of
        the cell that computed it) and no method's.

        ``scope``: "seed" -- this (dataset, seed), dropped when the seed's cells end;
        "dataset" -- kept across the dataset's seeds, dropped when they end; "run" -- kept
        for every dataset and seed of the run. All are dropped when the run ends. ``key``:
        a hashable of every setting the value depends on beyond its scope (``repr`` of the
        config sections it reads; the seed too, in a wider scope, if it depends on it).
        """
        if scope not in SHARED_SCOPES:
            raise ValueError(f"shared({name!r}): unknown scope {scope!r}; "
                             f"known: {', '.join(SHARED_SCOPES)}")
        owner = {"seed": (self.dataset, self.seed), "dataset": (self.dataset,), "run": ()}[scope]
        entry = (scope, owner, name, key)
        try:
            hash(entry)
        except TypeError as exc:
            raise TypeError(f"shared({name!r}): key must be hashable (e.g. repr() of a "
                            f"config), got {key!r}") from exc
        store = self._run.shared
        if entry not in store:
            where = f"seed {self.seed}" if scope == "seed" else f"for the {scope}"
            self.log(f"[{self.paper}] {self.dataset} {where}: {name} (shared)")
            started, nested = time.perf_counter(), self._run.shared_seconds
            store[entry] = compute()
            # a shared computation may ask for another one: each is timed once, on its own
            seconds = time.perf_counter() - started - (self._run.shared_seconds - nested)
            self._run.shared_seconds += seconds
            record = {"entry": _entry_id(entry), "wall": f"{self.dataset}/shared: {name}",
                      "seconds": seconds}
            self._run.out.shared.append(record)      # stored with the cell that computed it
            self._run.shared_wall[record["entry"]] = (record["wall"], seconds)
        return store[entry]

    def keep(self, name: str, value: Any) -> None:
        """An object a figure needs later (e.g. Fig. 2's top images): ``outcome.artifacts``.
        Stored with the cell (arrays in an npz beside its file): nested dicts, lists, tuples,
        numbers, strings and numpy arrays."""
        self._run.out.artifacts[name] = value


def _entry_id(entry: tuple) -> str:
    """A shared value's identity (scope, owner, name, key) as a short stable string."""
    import hashlib

    return hashlib.sha256(repr(entry).encode("utf-8")).hexdigest()[:16]


@dataclass
class CellOutput:
    """What one cell recorded (its rows, histories, kept objects, the shared work it
    computed and its own seconds): the payload of its file in the cell store."""

    table: ResultsTable = field(default_factory=ResultsTable)
    histories: list = field(default_factory=list)
    artifacts: dict = field(default_factory=dict)
    shared: list = field(default_factory=list)
    own_s: float = 0.0

    def payload(self) -> dict:
        rows = self.table.frame().to_dict("records") if len(self.table) else []
        return {"results": rows, "histories": self.histories, "artifacts": self.artifacts,
                "shared": self.shared, "own_s": self.own_s}


@dataclass
class RunState:
    """Everything the cells of one run record, and the work they share (:meth:`Cell.shared`:
    ``shared`` maps (scope, owner, name, key) to the value). ``out`` collects the running
    cell's output; :meth:`absorb` adds a finished (or stored) cell's payload to the run."""

    table: ResultsTable = field(default_factory=ResultsTable)
    histories: list = field(default_factory=list)
    wall: dict = field(default_factory=dict)
    artifacts: dict = field(default_factory=dict)
    shared: dict = field(default_factory=dict)
    shared_seconds: float = 0.0
    out: CellOutput = field(default_factory=CellOutput)
    shared_wall: dict = field(default_factory=dict)   # entry id -> (wall key, seconds)
    loaded_s: float = 0.0          # seconds of the cells (and their shared work) loaded

    def add_wall(self, key: str, seconds: float) -> None:
        self.wall[key] = self.wall.get(key, 0.0) + seconds

    def absorb(self, dataset: str, method: str, payload: Mapping, *, loaded: bool = False
               ) -> None:
        """Add one cell's payload: its rows, histories and kept objects, its own time as
        ``<dataset>/<method>`` and its shared work, each shared value timed once however many
        times it was computed (a resumed run recomputes what a missing cell needs)."""
        for row in payload.get("results", ()):
            self.table.add(row["dataset"], row["method"], row["metric"], row["value"],
                           seed=row["seed"], unit=row["unit"], variant=row["variant"],
                           repeat=row["repeat"])
        self.histories.extend(payload.get("histories", ()))
        self.artifacts.update(payload.get("artifacts") or {})
        self.add_wall(f"{dataset}/{method}", float(payload.get("own_s", 0.0)))
        if loaded:
            self.loaded_s += float(payload.get("own_s", 0.0))
            for record in payload.get("shared", ()):
                if record["entry"] not in self.shared_wall:
                    self.shared_wall[record["entry"]] = (record["wall"], record["seconds"])
                    self.loaded_s += float(record["seconds"])

    def add_shared_walls(self) -> None:
        """``<dataset>/shared: <name>``: every shared value's time, once (after the loop)."""
        for key, seconds in self.shared_wall.values():
            self.add_wall(key, seconds)

    def end(self, scope: str) -> None:
        """Drop the shared values of ``scope`` (its seed's or dataset's cells have ended; "run":
        every value)."""
        self.shared = {} if scope == "run" else {
            entry: value for entry, value in self.shared.items() if entry[0] != scope}


@dataclass
class Outcome:
    """What :func:`run` produced; every table is also written under ``report_dir``."""

    paper: str
    profile: str
    protocol: str                  # the budget that differs from the paper's ("" on paper)
    results: Any                   # pandas DataFrame, results.csv
    histories: Any                 # pandas DataFrame, histories.csv
    comparison: Any                # pandas DataFrame, comparison.csv
    claims: Any                    # pandas DataFrame, claims.csv
    provenance: dict
    reported: Any                  # repro.report.reported.ReportedPaper
    differences: dict[str, list[str]]   # dataset -> "key: value (paper: value)" items
    difference_table: Any          # pandas DataFrame: dataset, setting, this run, paper
    not_run: dict[str, str]        # dataset -> why it was not run
    report_dir: Path
    figure_dir: Path
    figures: dict[str, Path] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    cfg: Any = None
    tests: Any = None              # pandas DataFrame, claim_tests.csv: every comparison's test
    gates: Any = None              # repro.report.gates.Gates: the validity checks made
    pending: dict = field(default_factory=dict)  # (dataset, method) -> note: cells not yet run


@dataclass
class RunContext:
    """What a run's report is judged and written from, besides its numbers: the paper module,
    both configs, the settings that ran per dataset, where the data came from, what was not
    run, when and where it ran, and where the report goes (:func:`_report`)."""

    module: Any
    profile: str
    cfg: Any                       # the profile's config
    paper_cfg: Any                 # the paper profile's config
    settings: dict                 # dataset -> (config that ran, paper profile's config)
    files: dict                    # dataset -> its data files' hashes
    not_run: dict                  # dataset -> why it was not run
    started_at: str | None
    git: dict | None
    device: Any
    report_dir: Path
    figure_dir: Path


def paper_module(paper: str, *, load: bool = True):
    """``repro.papers.<paper>`` (``load=False``: only check the name); error naming the known
    papers if there is none."""
    from repro.papers import check_paper

    check_paper(paper)
    return importlib.import_module(f"repro.papers.{paper}") if load else None


def default_dirs(paper: str, profile: str) -> tuple[Path, Path]:
    """Where a run writes: $REPRO_REPORT_DIR / $REPRO_FIGURE_DIR (the stage's staging folders)
    or reports/<paper>/<profile> and figures/<paper>/<profile> under the repository."""
    from repro.papers import output_dirs

    report, figure = output_dirs(paper, profile)
    return (Path(os.environ.get("REPRO_REPORT_DIR") or report),
            Path(os.environ.get("REPRO_FIGURE_DIR") or figure))


def run(paper, profile: str | None = None, *, params_path: str | Path | None = None,
        report_dir: str | Path | None = None, figure_dir: str | Path | None = None,
        log_file: bool = True, recompute: bool | None = None, executor: str | None = None,
        selection=None) -> Outcome:
    """Run ``paper``'s experiment under ``profile`` (default: params.yaml's) and write its report.

    ``paper``: a paper key ("gapdcec") or a paper module itself (tests drive the runner with a
    module of their own). The training log goes to ``<report_dir>/run.log`` (``log_file=False``:
    to the console).

    Cells are read from and written to the cell store (:mod:`repro.papers.cells`;
    ``$REPRO_CELL_STORE`` or ``<report_dir>/cells``): a cell stored with today's key is used,
    not run. ``recompute`` (default ``$REPRO_RECOMPUTE=1``): run every cell again.
    ``executor`` (default ``$REPRO_EXECUTOR``): "local" (in this process, one cell after the
    other) or "ray" (the missing cells fanned out first: :mod:`repro.papers.fanout`).
    ``selection`` (a :class:`repro.papers.selection.Selection`; default from ``$REPRO_ONLY``,
    ``$REPRO_BUDGET_MIN``, ``$REPRO_FROM_STORE``): compute only some cells of the plan; the
    report uses every stored cell of the plan and calls the rest *pending*.
    """
    from repro.config import load_params, stage_params

    if os.environ.get("REPRO_REJUDGE") == "1":
        return rejudge(paper, profile, params_path=params_path, report_dir=report_dir,
                       figure_dir=figure_dir, log_file=log_file)
    params = load_params(params_path or os.environ.get("REPRO_PARAMS") or None)
    name = paper if isinstance(paper, str) else paper.PAPER
    if isinstance(paper, str):
        paper_module(paper, load=False)
    profile, _ = stage_params(params, name, profile)  # validates; imports nothing
    defaults = default_dirs(name, profile)
    report_dir = Path(report_dir or defaults[0])
    figure_dir = Path(figure_dir or defaults[1])
    report_dir.mkdir(parents=True, exist_ok=True)
    capture = log_to(report_dir / "run.log") if log_file else contextlib.nullcontext()
    with capture:  # from here on: the paper's imports (Keras, TensorFlow) log into run.log
        from repro.devices import apply_device_request

        apply_device_request()
        parallel = _data_parallel()
        module = paper_module(paper) if isinstance(paper, str) else paper
        cfg, paper_cfg = (_config(module, p, params) for p in (profile, "paper"))
        if parallel.startswith("DataParallel"):
            from repro.distribution import check_config_batches

            check_config_batches(cfg)   # before any training: a batch that does not split
        from repro.papers.cells import CellStore, store_folder

        if recompute is None:
            recompute = os.environ.get("REPRO_RECOMPUTE") == "1"
        executor = executor or os.environ.get("REPRO_EXECUTOR") or "local"
        if executor not in EXECUTORS:
            raise ValueError(f"unknown executor {executor!r}; known: {', '.join(EXECUTORS)}")
        from repro.papers import selection as selecting

        selection = selection if selection is not None else selecting.from_env()
        selecting.check(selection, cfg)     # an --only outside the plan: fail before any work
        store = CellStore(store_folder(report_dir, name, profile), name, profile)
        if executor == "ray" and selection.compute:
            from repro.papers.fanout import compute_missing

            compute_missing(module, name, profile, cfg, store, recompute=recompute,
                            params_path=params_path or os.environ.get("REPRO_PARAMS"),
                            log=_log_line, select=selection.selects)
            recompute = False        # what the fan-out computed is in the store now
        outcome = _run(module, profile, cfg, paper_cfg, report_dir, figure_dir,
                       extra={"data_parallel": parallel, "executor": executor}, store=store,
                       recompute=recompute, selection=selection)
    minutes = outcome.provenance["wall_time_s"]["total_s"] / 60
    print(f"{name} ({profile}): ran in {minutes:.1f} min; training log: run.log")
    return outcome


def rejudge(paper, profile: str | None = None, *, params_path: str | Path | None = None,
            source_dir: str | Path | None = None, report_dir: str | Path | None = None,
            figure_dir: str | Path | None = None, log_file: bool = True) -> Outcome:
    """Judge a stored run again, without training: read ``results.csv``, ``histories.csv``
    and ``provenance.json`` of ``source_dir`` (default: the committed
    reports/<paper>/<profile>/), apply today's report layer (verdict rule, gates, tables,
    figures) and write a full report into ``report_dir``. The numbers, the settings that ran,
    the wall times and the data hashes are the stored run's; ``provenance.extra.rejudged``
    says when and at which commit the report was re-judged. Figures that need objects the run
    did not store (curves, image grids) are carried over from the stored run's figure folder.
    ``python -m repro stage PAPER --rejudge`` runs it through the notebook."""
    import shutil

    from repro.config import load_params, stage_params
    from repro.papers import output_dirs

    params = load_params(params_path or os.environ.get("REPRO_PARAMS") or None)
    name = paper if isinstance(paper, str) else paper.PAPER
    profile, _ = stage_params(params, name, profile)
    stored_report, stored_figures = output_dirs(name, profile)
    source = Path(source_dir or stored_report)
    defaults = default_dirs(name, profile)
    report_dir, figure_dir = Path(report_dir or defaults[0]), Path(figure_dir or defaults[1])
    missing = [f for f in ("results.csv", "provenance.json") if not (source / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{source}: no stored run to re-judge (missing {', '.join(missing)}); "
                                f"run the stage first: python -m repro stage {name} --profile {profile}")
    report_dir.mkdir(parents=True, exist_ok=True)
    if source.resolve() != report_dir.resolve():   # run.log and what a figure kept (curves.csv)
        for stored in source.iterdir():
            if stored.is_file() and stored.suffix not in (".ipynb", ".html"):
                shutil.copyfile(stored, report_dir / stored.name)
    if not (source / "cells").is_dir():    # a run made before the cell store: say so there
        from repro.papers.cells import CellStore

        CellStore(report_dir / "cells", name, profile).write_index({}, note=(
            "no cells stored: this report was re-judged from the results.csv of a run made "
            f"before the cell store; `python -m repro stage {name} --profile {profile}` "
            "computes and stores them"))
    elif source.resolve() != report_dir.resolve():
        shutil.copytree(source / "cells", report_dir / "cells", dirs_exist_ok=True)
    capture = log_to(report_dir / "run.log") if log_file else contextlib.nullcontext()
    with capture:   # the paper's imports (Keras, TensorFlow) log into run.log, as in a run
        return _rejudge(paper, name, profile, params, source, report_dir, figure_dir,
                        stored_figures)


def _rejudge(paper, name, profile, params, source, report_dir, figure_dir, stored_figures):
    import json
    import shutil

    import pandas as pd

    from repro.config import build
    from repro.data import DatasetError, load as load_dataset
    from repro.report.gates import chance_levels
    from repro.report.provenance import git_state

    module = paper_module(paper) if isinstance(paper, str) else paper
    provenance = json.loads((source / "provenance.json").read_text())
    if provenance.get("profile") != profile:
        raise ValueError(f"{source}/provenance.json: profile {provenance.get('profile')!r}, "
                         f"not {profile!r}")
    results = pd.read_csv(source / "results.csv", dtype={"variant": str}, keep_default_na=False,
                          na_values={"value": [""]})
    histories = pd.read_csv(source / "histories.csv", dtype={"variant": str},
                            keep_default_na=False, na_values=[""]) \
        if (source / "histories.csv").is_file() else None
    if histories is not None and "variant" in histories:
        histories["variant"] = histories["variant"].fillna("")
    cfg, paper_cfg = (_config(module, p, params) for p in (profile, "paper"))
    load = getattr(module, "load_data", load_dataset)
    extra = provenance.setdefault("extra", {})
    settings, chance = {}, dict(extra.get("chance_levels") or {})
    gate_spec = _reported(module).gates
    for dataset, ran in (extra.get("settings_run") or {}).items():
        try:
            data = load(dataset)
        except DatasetError as exc:
            raise DatasetError(f"re-judging {name}: {dataset}, which the stored run used, is "
                               f"absent here ({exc})") from exc
        settings[dataset] = (build(module.Config, ran, where=f"{name} (stored run, {dataset})"),
                             _settings(module, paper_cfg, dataset, data))
        if dataset not in chance:
            chance[dataset] = chance_levels(gate_spec, getattr(data, "y", None))
    extra["chance_levels"] = chance
    extra["rejudged"] = {
        "at_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git": git_state(ignore=own_outputs(name)),
        "results_from": (provenance.get("git") or {}).get("sha", "unknown")}
    _log_line(f"[{name}] re-judged at {extra['rejudged']['at_utc']} from the stored run of "
              f"{extra['rejudged']['results_from'][:12]} (no training)")
    context = RunContext(module, profile, cfg, paper_cfg, settings,
                         provenance.get("datasets", {}), dict(extra.get("not_run") or {}),
                         provenance.get("started_utc"), provenance.get("git"),
                         extra.get("compute_device"), report_dir, figure_dir)
    outcome = _report(context, RunState(), histories, {}, results=results,
                      provenance=provenance)
    old_figures = Path(stored_figures)
    if old_figures.is_dir() and old_figures.resolve() != figure_dir.resolve():
        for png in sorted(old_figures.glob("*.png")):
            if png.stem not in outcome.figures:
                shutil.copyfile(png, figure_dir / png.name)
                outcome.figures[png.stem] = figure_dir / png.name
    return outcome


def _data_parallel() -> str:
    """``REPRO_DATA_PARALLEL=1``: DataParallel over every device (JAX), else why not -- the
    provenance's ``data_parallel``."""
    from repro import distribution

    if not distribution.wanted():
        return "not asked for (REPRO_DATA_PARALLEL unset): one device"
    _, why = distribution.data_parallel()
    _log_line(f"[runner] data parallelism: {why}")
    return why


def _config(module, profile: str, params: Mapping):
    from repro.config import build, stage_params

    _, merged = stage_params(params, module.PAPER, profile)
    return build(module.Config, merged, where=module.PAPER)


def _run(module, profile, cfg, paper_cfg, report_dir: Path, figure_dir: Path,
         extra: Mapping | None = None, *, store=None, recompute: bool = False,
         selection=None) -> Outcome:
    from repro.data import DatasetError, load as load_dataset
    from repro.papers import selection as selecting
    from repro.papers.cells import cell_provenance, package_key
    from repro.report.gates import chance_levels
    from repro.report.provenance import git_state
    from repro.report.results import histories_frame

    from repro.devices import check_device
    from repro.report.provenance import keras_backend

    log = _log_line
    backend = keras_backend()
    device = check_device(backend)  # a GPU asked for and absent: fail before any work
    started_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    git = git_state(ignore=own_outputs(module.PAPER))
    run_state, files, settings, not_run, chance = RunState(), {}, {}, {}, {}
    gate_spec = _reported(module).gates   # the chance levels its gates need, per dataset
    started = time.perf_counter()
    load = getattr(module, "load_data", load_dataset)
    packages = package_key(backend)
    counts = {"computed": 0, "loaded": 0, "stale": 0, "corrupt": 0, "pending": 0}
    used, index = set(), {}
    selection = selection or selecting.Selection()
    pending, measured, plan_seeds = {}, {}, {}   # the plan's cells not computed; cells' times
    for dataset in cfg.datasets:
        try:
            data = load(dataset)
        except DatasetError as exc:
            if selection.only is not None and dataset in selection.only:
                raise DatasetError(f"--only {dataset}: its data are absent here "
                                   f"({str(exc).splitlines()[0]})") from exc
            not_run[dataset] = f"not run: {dataset} data absent"
            log(f"[{module.PAPER}] {dataset}: {not_run[dataset]} ({str(exc).splitlines()[0]})")
            continue
        files[dataset] = dict(data.files)
        chance[dataset] = chance_levels(gate_spec, getattr(data, "y", None))
        settings[dataset] = (_settings(module, cfg, dataset, data),
                             _settings(module, paper_cfg, dataset, data))
        ran = settings[dataset][0]
        plan_seeds[dataset] = list(ran.seeds)
        for seed in ran.seeds:   # per_dataset may set its own seeds
            for method in ran.methods:   # ... and its own methods
                key, found = None, None
                if store is not None:
                    key = cell_key_of(module, ran, seed, method, data.files, backend, packages)
                    found = store.load(dataset, seed, method, key)
                    used.add(store.path(dataset, seed, method))
                selected = selection.selects(dataset, seed)
                over = selection.budget_s is not None and \
                    time.perf_counter() - started >= selection.budget_s
                fresh = recompute and selected and not over   # --recompute: not past the budget
                if found is not None and found.state == "done" and not fresh:
                    log(f"[{module.PAPER}] {dataset} seed {seed}: {method} (stored cell)")
                    run_state.absorb(dataset, method, found.payload, loaded=True)
                    measured[(dataset, seed, method)] = _measured(
                        found.payload, found.provenance.get("device"))
                    counts["loaded"] += 1
                    index[f"{dataset}/{seed}/{method}"] = "loaded"
                    continue
                if not selected or over:
                    why = ("not selected by this run (--only)" if selection.compute else
                           "this run computes no cell (--from-store)") if not selected else \
                        f"not started: the run's budget of {selection.budget_s / 60:g} min was spent"
                    if found is not None and found.state in ("stale", "corrupt"):
                        why = f"stored cell {found.state} ({found.why}); {why}"
                    pending[(dataset, seed, method)] = why
                    counts["pending"] += 1
                    index[f"{dataset}/{seed}/{method}"] = "pending"
                    continue
                if found is not None and found.state in ("stale", "corrupt"):
                    counts[found.state] += 1
                    log(f"[{module.PAPER}] {dataset} seed {seed}: {method}: stored cell "
                        f"{found.state} ({found.why}); recomputing")
                payload = _run_cell(module, run_state, dataset, seed, method, ran, data, log)
                if store is not None:
                    store.save(dataset, seed, method, key, payload,
                               cell_provenance(backend, device, git, payload["own_s"]))
                run_state.absorb(dataset, method, payload)
                measured[(dataset, seed, method)] = _measured(payload, device)
                counts["computed"] += 1
                index[f"{dataset}/{seed}/{method}"] = "computed"
            run_state.end("seed")
        run_state.end("dataset")
    run_state.end("run")
    run_state.add_shared_walls()
    this_run = time.perf_counter() - started
    run_state.wall["total_s"] = this_run + run_state.loaded_s
    histories = histories_frame(run_state.histories) if run_state.histories else None
    cells = {**counts, "this_run_s": this_run, "selection": selection.describe(),
             "store": "cells/ (repro.papers.cells)" if store is not None else "none"}
    if store is not None:
        kept = {path for path in store.cell_files() if path.parent.parent.name in not_run}
        removed = store.prune(used | kept)     # a dataset absent here keeps its cells
        if removed:
            log(f"[{module.PAPER}] cell store: removed {len(removed)} cell(s) this profile no "
                f"longer has")
        store.write_index(index)
    log(f"[{module.PAPER}] cells: {counts['computed']} computed, {counts['loaded']} loaded "
        f"from the store ({counts['stale']} stale, {counts['corrupt']} corrupt recomputed), "
        f"{counts['pending']} pending")
    projection = selecting.projections(measured)
    # bench_steps projects the paper profile's budget only
    bench = selecting.bench_projection(module.PAPER) if pending and profile == "paper" else {}
    summary = selecting.pending_summary(module.PAPER, profile, pending, plan_seeds, projection,
                                        backend, bench)
    if pending:
        log(f"[{module.PAPER}] {len(pending)} cell(s) pending, projected {summary['projected']}; "
            f"finish them: {summary['finish']['this machine']}")
    notes = selecting.pending_notes(module.PAPER, profile, pending, plan_seeds, projection,
                                    bench)
    context = RunContext(module, profile, cfg, paper_cfg, settings, files, not_run, started_at,
                         git, device, report_dir, figure_dir)
    return _report(context, run_state, histories,
                   {**dict(extra or {}), "chance_levels": chance, "cells": cells,
                    "pending": {**summary, **({"notes": {f"{d}/{m}": text for (d, m), text
                                                        in notes.items()}} if notes else {})}},
                   pending=notes)


def _measured(payload: Mapping, device) -> dict:
    """A cell's wall time for the projection of pending cells: its own seconds, the shared
    work it computed, and the device that measured them."""
    return {"own_s": float(payload.get("own_s") or 0.0), "device": device,
            "shared_s": sum(float(r.get("seconds") or 0.0) for r in payload.get("shared") or ())}


def cell_key_of(module, ran, seed, method, files, backend, packages) -> dict:
    from repro.papers.cells import cell_key

    return cell_key(module, ran, seed, method, files, backend=backend, packages=packages)


def _reported(module):
    from repro.report.reported import load_reported

    return load_reported(getattr(module, "REPORTED", module.PAPER))


def _settings(module, cfg, dataset: str, data):
    merged = cfg.for_dataset(dataset)
    return module.settings(merged, data) if hasattr(module, "settings") else merged


def _run_cell(module, run_state: RunState, dataset, seed, method, cfg, data, log) -> dict:
    """Run one cell; its payload (:meth:`CellOutput.payload`), not yet added to the run."""
    cell = Cell(module.PAPER, dataset, seed, method, cfg, data, log, run_state)
    log(f"[{module.PAPER}] {dataset} seed {seed}: {method}")
    run_state.out = out = CellOutput()
    shared_before, started = run_state.shared_seconds, time.perf_counter()
    try:
        if hasattr(module, "run_cell"):
            module.run_cell(cell)
        else:
            fit_cell(cell, module.ESTIMATORS)
    finally:
        run_state.out = CellOutput()
    out.own_s = time.perf_counter() - started - (run_state.shared_seconds - shared_before)
    return out.payload()


def fit_cell(cell: Cell, estimators: Mapping[str, Callable[[Cell], Any]], *,
             timings=("pretrain_s", "cluster_s")):
    """The one cell function of a clustering paper: ``estimators[cell.method](cell)`` built
    (settings and shared inputs through its constructor, see :mod:`repro.methods.base`),
    fitted on the cell's data and seed, its result recorded (:meth:`Cell.record_clustering`,
    with the named ``timings``). Returns the result, for a paper's own extra records."""
    if cell.method not in estimators:
        raise KeyError(f"{cell.paper}: no estimator for method {cell.method!r}; "
                       f"known: {sorted(estimators)}")
    estimator = estimators[cell.method](cell)
    result = estimator.fit(cell.data.x, seed=cell.seed, y=cell.data.y)
    cell.record_clustering(result, timings=timings)
    return result


def _log_line(text: str) -> None:
    print(text, flush=True)


def own_outputs(paper: str) -> tuple[str, ...]:
    """Repository-relative paths the pipeline writes: every stage's reports and figures and
    dvc.lock. Their changes do not make the provenance's git state dirty (``dvc repro``
    deletes a stage's previous outputs before running it, and a stage that ran before this one
    changed its own); only the code, params and data that produced the report count."""
    return ("reports/", "figures/", "dvc.lock")


def _report(context: RunContext, run_state: RunState, histories, extra: Mapping, *,
            results=None, provenance=None, pending=None) -> Outcome:
    """Judge and write the report of a run (or, with ``results`` and ``provenance`` given, of
    a run made before: :func:`rejudge`); ``extra``: provenance facts of this run."""
    from repro.config import to_dict
    from repro.papers._common import (difference_frame, protocol_summary, reductions,
                                      reduction_notes)
    from repro.report.derived import add_derived
    from repro.report.gates import evaluate_gates
    from repro.report.provenance import collect_provenance
    from repro.report.rerun import read_rerun, rerun_path
    from repro.report.writers import write_report

    module, profile, cfg, settings = context.module, context.profile, context.cfg, context.settings
    not_run, report_dir = context.not_run, context.report_dir
    reported = _reported(module)
    differences = reductions(settings)
    protocol = "" if profile == "paper" else protocol_summary(
        cfg, context.paper_cfg, settings, getattr(module, "BUDGET", {}))
    notes = {**reduction_notes(differences, profile),
             **{(dataset, "*"): why for dataset, why in not_run.items()},
             **{("*", method): note for method, note in getattr(module, "METHOD_NOTES", {}).items()}}
    rerun_file = rerun_path(module.PAPER, profile)
    rerun = read_rerun(rerun_file) if rerun_file.is_file() else None
    if provenance is None:
        provenance = collect_provenance(
            profile=profile, seeds=sorted({s for pair in settings.values() for s in pair[0].seeds}
                                          or set(cfg.seeds)), datasets=context.files,
            wall_time_s=run_state.wall, started_at=context.started_at, git=context.git,
            extra={"paper": module.PAPER, "protocol": protocol or "the paper's protocol",
                   "compute_device": context.device,
                   "settings_run": {d: to_dict(pair[0]) for d, pair in settings.items()},
                   "differs_from_paper_profile": differences, "not_run": not_run,
                   "wall_time_definition": WALL_TIME_DEFINITION, **extra,
                   **dict(getattr(module, "NOTES", {}))})
    provenance["extra"]["rerun_data"] = _rerun_note(rerun_file, rerun)
    provenance["extra"]["verdict_rule"] = (
        f"paired / Welch t intervals, family-wise level {reported.alpha} per claim "
        "(repro.report.claims)")
    if pending is None:     # a re-judged run: the pending cells its provenance names
        stored = (provenance["extra"].get("pending") or {}).get("notes") or {}
        pending = {tuple(key.split("/", 1)): text for key, text in stored.items()}
    if results is None:
        results = run_state.table.frame()
    results = add_derived(results, reported.derived)
    chance = provenance["extra"].get("chance_levels") or {}
    gates = evaluate_gates(reported.gates, results, histories, chance, label=reported.label)
    comparison, claims, tests = write_report(
        report_dir, reported, results, notes=notes, histories_df=histories,
        provenance=provenance, wall_time_s=provenance["wall_time_s"],
        include_unreported=getattr(module, "INCLUDE_UNREPORTED", True), profile=profile,
        rerun=rerun, gates=gates, pending=pending)
    outcome = Outcome(module.PAPER, profile, protocol, results, histories, comparison, claims,
                      provenance, reported, differences, difference_frame(settings), not_run,
                      report_dir, context.figure_dir,
                      artifacts=run_state.artifacts, cfg=cfg, tests=tests, gates=gates,
                      pending=dict(pending))
    outcome.figures = {**table_figure(outcome), **_module_figures(module, outcome)}
    return outcome


def _rerun_note(path: Path, rerun) -> str:
    from repro.config import repo_root

    if rerun is None:
        return "not measured for this profile"
    where = path.relative_to(repo_root()) if path.is_relative_to(repo_root()) else path.name
    runs = f"{rerun['reference_run'].iloc[0]} vs {rerun['rerun_run'].iloc[0]}"
    return (f"{len(rerun)} (cell, seed) pairs from {where} ({runs}); in the variance of every "
            "claim's difference")


def _module_figures(module, outcome: Outcome) -> dict[str, Path]:
    if not hasattr(module, "figures"):
        return {}
    outcome.figure_dir.mkdir(parents=True, exist_ok=True)
    return module.figures(outcome, outcome.figure_dir)


def table_figure(outcome: Outcome) -> dict[str, Path]:
    """Table 1 in the paper's layout (methods x datasets, "reproduced (paper)", coloured by
    verdict) -> ``<figure_dir>/table1.png``."""
    from repro.report.figures import render_paper_grid_png
    from repro.report.formatting import decimals_by_metric

    path = outcome.figure_dir / "table1.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    reported = outcome.comparison[outcome.comparison["table"].fillna("") != ""]
    if reported.empty:
        return {}
    title = (f"{outcome.reported.captions.get(reported['table'].iloc[0], 'Table 1')}: reproduced "
             f"(paper) [{outcome.profile} profile, n={int(reported['n_seeds'].max())} seeds]")
    figure = render_paper_grid_png(reported, path, title=title, labels=outcome.reported.labels(),
                                   decimals=decimals_by_metric(reported))
    figure.clear()
    return {"table1": path}


@contextlib.contextmanager
def log_to(path: Path):
    """Send everything printed -- Python's sys.stdout/sys.stderr and the process's file
    descriptors 1 and 2 (TensorFlow's C++ start-up lines) -- to ``path`` (appended, line
    buffered) for the duration of the block."""
    with open(path, "a", buffering=1, encoding="utf-8") as sink:
        saved = []
        for fd in (1, 2):
            try:
                saved.append((fd, os.dup(fd)))
                os.dup2(sink.fileno(), fd)
            except OSError:  # no such descriptor (an embedded interpreter)
                pass
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                yield sink
        finally:
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)
            _repoint_log_handlers(sink, sys.stderr)


def _repoint_log_handlers(old, new) -> None:
    """Logging handlers created inside :func:`log_to` (TensorFlow adds one to its logger when
    it is first imported) write to ``new`` once the log file closes."""
    import logging

    loggers = [logging.getLogger()] + [logger for logger in logging.root.manager.loggerDict.values()
                                       if isinstance(logger, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is old:
                handler.setStream(new)

