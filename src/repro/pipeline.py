"""Run one paper's stage: papermill executes notebooks/<paper>.ipynb into reports/.

``python -m repro stage gapdcec [--profile quick]`` is what each DVC stage runs. The
notebook's tagged ``parameters`` cell receives the profile only. Outputs are staged: the
runner (:mod:`repro.papers.runner`) writes into fresh ``.staging-*`` folders beside
``reports/<paper>/<profile>/`` and ``figures/<paper>/<profile>/`` -- named to it by the
environment variables ``REPRO_REPORT_DIR`` / ``REPRO_FIGURE_DIR``, so no machine path ends up
in the executed notebook -- and only when the whole notebook (and its HTML copy) succeeded
are they swapped into place, so a crash leaves the previous complete report, never half a
new one. The training log the runner writes to ``run.log`` is followed on the console while
the notebook runs.

The cell store (:mod:`repro.papers.cells`) is the exception, by design: every cell is written
into ``reports/<paper>/<profile>/cells/`` (one whole, checksummed file at a time) as soon as it
finishes, so that a killed stage resumes where it stopped; when the notebook succeeded, the
store is copied into the staged report before the swap. dvc.yaml declares it ``persist: true``
(``dvc repro`` does not delete it before running the stage).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from pathlib import Path

from repro.config import build, load_params, repo_root, stage_params
from repro.papers import PAPERS, check_paper, output_dirs


def stage_config(paper: str, profile: str | None = None, params: dict | None = None):
    """(profile, typed config) of ``paper``: params.yaml's base merged with the profile."""
    import importlib

    check_paper(paper)
    module = importlib.import_module(f"repro.papers.{paper}")
    profile, merged = stage_params(params if params is not None else load_params(), paper, profile)
    return profile, build(module.Config, merged, where=paper)


def run_stage(paper: str, profile: str | None = None, *, params_path: str | Path | None = None,
              output_root: str | Path | None = None, log_output: bool = True,
              rejudge: bool = False, executor: str | None = None,
              recompute: bool | None = None, only: list[str] | None = None,
              budget_min: float | None = None, from_store: bool = False) -> Path:
    """Execute notebooks/<paper>.ipynb with papermill; return the final report folder.

    ``rejudge``: train nothing; the notebook re-judges the stored run in the report folder
    (its results.csv, histories.csv and provenance.json) with today's report layer
    (:func:`repro.papers.runner.rejudge`).

    ``executor``: "local" (default; ``$REPRO_EXECUTOR``) or "ray" (the missing cells fanned
    out on a Ray cluster: :mod:`repro.papers.fanout`). ``recompute``: run every cell again
    instead of using the stored ones (default ``$REPRO_RECOMPUTE=1``).

    A partial run (:mod:`repro.papers.selection`): ``only`` (["usps:0,1", "mnist-test"])
    computes only those datasets / seeds of the plan, ``budget_min`` starts no new cell after
    that many minutes, ``from_store`` computes nothing; the report is built from every stored
    cell of the plan and calls the rest *pending*.

    Outputs go to ``<output_root>/reports/...`` and ``<output_root>/figures/...``
    (default: the repository root; the tests use a temporary folder).
    """
    import shutil
    import papermill

    from repro.papers.selection import Selection, SelectionError, check, parse_only, to_env
    from repro.report.atomic import staged_directory

    selection_env = to_env(only, budget_min, from_store)   # bad input fails before any work
    if rejudge and (only or budget_min is not None or from_store):
        raise SelectionError("--rejudge trains nothing and reads results.csv: it takes no "
                             "--only, --budget-min or --from-store")
    root = repo_root()
    params_path = Path(params_path) if params_path else root / "params.yaml"
    profile, cfg = stage_config(paper, profile, load_params(params_path))  # validates early
    check(Selection(only=parse_only(only)), cfg)
    report_dir, figure_dir = output_dirs(paper, profile, Path(output_root or root))
    notebook = root / "notebooks" / f"{paper}.ipynb"
    started = time.perf_counter()
    with staged_directory(report_dir) as report_tmp, staged_directory(figure_dir) as figure_tmp:
        executed = report_tmp / f"{paper}.ipynb"
        store = report_dir / "cells"
        env = {"REPRO_REPORT_DIR": str(report_tmp), "REPRO_FIGURE_DIR": str(figure_tmp),
               "REPRO_PARAMS": str(params_path), "TF_CPP_MIN_LOG_LEVEL": "2",
               "REPRO_REJUDGE": "1" if rejudge else "0", "REPRO_CELL_STORE": str(store),
               "REPRO_EXECUTOR": executor or os.environ.get("REPRO_EXECUTOR") or "local",
               "REPRO_RECOMPUTE": "1" if (recompute if recompute is not None
                                          else os.environ.get("REPRO_RECOMPUTE") == "1") else "0",
               **selection_env}
        with environment(env), follow(report_tmp / "run.log", enabled=log_output):
            papermill.execute_notebook(
                str(notebook), str(executed), cwd=str(root), kernel_name="python3",
                log_output=False, progress_bar=False, parameters={"profile": profile})
        strip_machine_paths(executed, paper, profile)
        export_html(executed, report_tmp / f"{paper}.html")
        if store.is_dir():      # the store travels with the report it made
            shutil.copytree(store, report_tmp / "cells", dirs_exist_ok=True)
    print(f"[repro] {paper} ({profile}) done in {time.perf_counter() - started:.0f} s -> {report_dir}")
    return report_dir


@contextlib.contextmanager
def environment(values: dict[str, str]):
    """``os.environ`` updated with ``values`` inside the block (the notebook's kernel inherits it)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def follow(path: Path, *, enabled: bool = True, interval_s: float = 0.5):
    """Print the lines appended to ``path`` (the run's training log) while the block runs."""
    if not enabled:
        yield
        return
    done = threading.Event()

    def pump():
        offset = 0
        while True:
            finished = done.is_set()
            if path.is_file():
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                offset += len(chunk)
                if chunk:
                    sys.stdout.write(chunk.decode("utf-8", errors="replace"))
                    sys.stdout.flush()
            if finished:
                return
            done.wait(interval_s)

    thread = threading.Thread(target=pump, name="follow-run-log", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=10)


def strip_machine_paths(notebook: Path, paper: str, profile: str) -> None:
    """Papermill records the absolute input and (staging) output paths in the notebook's
    metadata: replace them with the repository-relative final ones."""
    import nbformat

    book = nbformat.read(notebook, as_version=4)
    meta = book.metadata.get("papermill", {})
    meta["input_path"] = f"notebooks/{paper}.ipynb"
    meta["output_path"] = f"reports/{paper}/{profile}/{paper}.ipynb"
    nbformat.write(book, notebook)


def export_html(notebook: Path, html: Path) -> None:
    """The executed notebook as a self-contained HTML page (figures embedded)."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    html.write_text(body, encoding="utf-8")


def register(subparsers) -> None:
    from repro.papers.selection import ONLY_HELP

    parser = subparsers.add_parser(
        "stage", help="run one paper's notebook via papermill",
        description="Run a paper's stage: compute the profile's cells not in the cell store "
                    "(reports/<paper>/<profile>/cells/, one file per cell, written as each "
                    "finishes: a run stopped mid-way loses at most the cell in progress) and "
                    "build its report. A partial run (--only, --budget-min, --from-store) "
                    "reports every stored cell of the plan and calls the rest 'pending', with "
                    "their projected time and the command that computes them.")
    parser.add_argument("paper", choices=PAPERS)
    parser.add_argument("--profile", default=None, help="smoke | quick | paper (default: params.yaml)")
    parser.add_argument("--params", default=None, help="params file (default: <repo>/params.yaml)")
    parser.add_argument("--rejudge", action="store_true",
                        help="train nothing: re-judge the stored run in reports/<paper>/<profile>/")
    parser.add_argument("--executor", choices=("local", "ray"), default=None,
                        help="where missing cells run: in this process (local, the default) or "
                             "fanned out on Ray (RAY_ADDRESS: a cluster; else a local one)")
    parser.add_argument("--recompute", action="store_true", default=None,
                        help="run every (selected) cell again instead of using the stored cells")
    parser.add_argument("--only", action="append", default=None, metavar="DATASET[:SEEDS]",
                        help=ONLY_HELP)
    parser.add_argument("--budget-min", type=float, default=None, metavar="N",
                        help="start no new cell after N minutes (local executor); the cells "
                             "not started are 'pending' in the report")
    parser.add_argument("--from-store", action="store_true",
                        help="compute no cell: the report from the stored cells (the rest "
                             "pending); what the <paper>-paper DVC stages run")
    parser.set_defaults(func=_run_from_args)


def _run_from_args(args: argparse.Namespace) -> int:
    import logging

    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    # papermill streams the notebook's output (Keras progress, the stage's log lines) through
    # its logger; without a handler a 25-minute run would print nothing.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("papermill").setLevel(logging.INFO)
    from repro.papers.selection import SelectionError

    try:
        run_stage(args.paper, args.profile, params_path=args.params, rejudge=args.rejudge,
                  executor=args.executor, recompute=args.recompute, only=args.only,
                  budget_min=args.budget_min, from_store=args.from_store)
    except SelectionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
