"""Which source files a paper's DVC stage depends on, computed from its imports.

``dvc repro`` reruns a stage when one of its ``deps`` changes. Listing whole folders
(``src/repro/methods``) reruns the 25-minute GAPDCEC stage when someone edits PQDEC's code,
and listing too few files lets a stale report pass as current. So each stage lists exactly
the files its paper's module imports, found statically:

* :func:`import_closure` follows every ``import`` / ``from ... import`` anywhere in a file
  (also the ones inside functions, which this code base uses to keep start-up fast), plus
  the ``__init__.py`` of every package Python runs on the way to a submodule;
* :func:`stage_dependencies` is one stage's list: notebook, reported-numbers YAML, the
  stage runner and the import closure of the paper's module;
* ``python -m repro deps PAPER [--check]`` prints that list ready to paste into dvc.yaml,
  or compares it with dvc.yaml's (``tests/test_deps.py`` runs the same comparison).

Dynamic imports (``importlib.import_module(f"repro.papers.{paper}")``) cannot be seen and
are why :func:`stage_dependencies` adds the paper's module by name. Data files are not
imports; the caller lists them (dvc.yaml's ``data/raw/...`` deps).
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

PACKAGE = "repro"
DATA_PREFIX = "data/raw/"
RERUN_DIR = "benchmarks/results/rerun"


def _root(root: Path | str | None) -> Path:
    """``root`` as a Path; by default the repository this package lives in."""
    if root is None:
        from repro.config import repo_root
        return repo_root()
    return Path(root)


def _module_file(name: str, src: Path) -> Path | None:
    """The file of module ``name`` (``repro.a.b``) under ``src``, or None if there is none."""
    base = src.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _in_package(name: str | None) -> bool:
    return bool(name) and (name == PACKAGE or name.startswith(PACKAGE + "."))


def _imported_names(path: Path, module: str) -> set[str]:
    """Every module name ``path`` (module ``module``) may import, first-party or not.

    ``from X import n`` yields X and ``X.n``, since ``n`` may be a submodule; names that are
    not modules are dropped later, when no file is found for them.
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: level 1 is this package, 2 its parent, ...
                parts = package.split(".")
                anchor = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{anchor}.{node.module}" if node.module else anchor
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def notebook_imports(path: Path) -> list[str]:
    """The ``repro`` modules the code cells of notebook ``path`` import (its own imports count:
    the notebook runs them, e.g. ``repro.report.notebook``)."""
    import json

    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    names: set[str] = set()
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", []))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return sorted(n for n in names if _in_package(n))


def import_closure(module: str, root: Path | None = None, *, stop: tuple[str, ...] = ()
                   ) -> list[str]:
    """Repository-relative paths of every ``repro`` file that importing ``module`` runs.

    Includes ``module``'s own file, the ``__init__.py`` of each package on the way to every
    imported module (importing ``repro.methods.dec`` runs ``repro/__init__.py`` and
    ``repro/methods/__init__.py``) and, transitively, whatever those files import, lazy
    imports inside functions included. Third-party modules are ignored. Sorted, unique.

    ``stop``: modules (with their submodules) not entered, e.g. ``("repro.report",)`` for the
    code that computes a result without the code that reports it (:mod:`repro.papers.cells`).
    """
    root = _root(root)
    src = root / "src"
    if not _in_package(module) or _module_file(module, src) is None:
        raise ModuleNotFoundError(f"no file for module {module!r} under {src / PACKAGE}")
    found: dict[str, Path] = {}
    pending = [module]
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # the packages first, then the module itself
            prefix = ".".join(parts[:depth])
            if any(prefix == s or prefix.startswith(s + ".") for s in stop):
                break
            path = None if prefix in found else _module_file(prefix, src)
            if path is None:
                continue
            found[prefix] = path
            pending.extend(n for n in _imported_names(path, prefix) if _in_package(n))
    return sorted({path.relative_to(root).as_posix() for path in found.values()})


def stage_dependencies(paper: str, root: Path | None = None) -> list[str]:
    """The exact ``deps`` (data aside) of ``paper``'s DVC stage, sorted and unique.

    The notebook papermill runs, the paper's reported numbers, the stage runner, the
    measured re-run data the claims use (``benchmarks/results/rerun``, when the
    folder exists), and the import closures of the paper's module, of :mod:`repro.pipeline`
    and of the shared experiment runner ``repro.papers.runner`` and of whatever the notebook's
    code cells import (``repro.report.notebook``).
    """
    root = _root(root)
    deps = {f"notebooks/{paper}.ipynb", f"src/repro/papers/{paper}.yaml", "src/repro/pipeline.py"}
    if (root / RERUN_DIR).is_dir():
        deps.add(RERUN_DIR)
    modules = [f"repro.papers.{paper}", "repro.pipeline"]
    if (root / "src/repro/papers/runner.py").is_file():
        modules.append("repro.papers.runner")
    notebook = root / "notebooks" / f"{paper}.ipynb"
    if notebook.is_file():
        src = root / "src"
        modules += [m for m in notebook_imports(notebook) if _module_file(m, src) is not None]
    for module in modules:
        deps.update(import_closure(module, root))
    return sorted(deps)


def declared_dependencies(paper: str, root: Path | None = None) -> list[str]:
    """The ``deps`` of stage ``paper`` in ``<root>/dvc.yaml``, without ``data/raw/...``."""
    import yaml

    dvc = yaml.safe_load((_root(root) / "dvc.yaml").read_text(encoding="utf-8")) or {}
    stages = dvc.get("stages", {})
    if paper not in stages:
        raise KeyError(f"dvc.yaml has no stage {paper!r}; stages: {', '.join(stages)}")
    deps = [next(iter(d)) if isinstance(d, dict) else str(d) for d in stages[paper].get("deps", [])]
    return [d.rstrip("/") for d in deps if not d.startswith(DATA_PREFIX)]


def check(paper: str, root: Path | None = None) -> tuple[list[str], list[str]]:
    """(missing, extra): files the stage needs but dvc.yaml does not list one by one, and
    dvc.yaml entries that are not needed files (a folder entry counts as extra)."""
    needed, declared = set(stage_dependencies(paper, root)), set(declared_dependencies(paper, root))
    return sorted(needed - declared), sorted(declared - needed)


def format_deps(deps: list[str]) -> str:
    """``deps`` as dvc.yaml list items, indented to paste under a stage's ``deps:``."""
    return "\n".join(f"      - {d}" for d in deps)


def write_deps(paper: str, root: Path | None = None) -> Path:
    """Rewrite the ``deps:`` block of stage ``paper`` in ``<root>/dvc.yaml`` with its import
    closure, keeping its ``data/raw/...`` entries (the rest of the file is left as it is)."""
    import re

    path = _root(root) / "dvc.yaml"
    text = path.read_text(encoding="utf-8")
    # "deps: &<paper>-deps": the <paper>-paper stage's deps are an alias of this list
    block = re.compile(rf"(\n  {re.escape(paper)}:\n(?:    .*\n)*?    deps:(?: &\S+)?\n)((?:      - .*\n)*)")
    match = block.search(text)
    if match is None:
        raise KeyError(f"dvc.yaml has no stage {paper!r} with a deps: block")
    data = [line for line in match.group(2).splitlines() if line.strip()[2:].startswith(DATA_PREFIX)]
    lines = [f"      - {d}" for d in stage_dependencies(paper, root)]
    new = "\n".join(lines + data) + "\n"     # the code's files, then the data entries
    path.write_text(text[:match.start(2)] + new + text[match.end(2):], encoding="utf-8")
    return path


def _run(args: argparse.Namespace) -> int:
    root = Path(args.root) if args.root else None
    try:
        if args.write:
            print(f"wrote the deps of stage {args.paper} into {write_deps(args.paper, root)}")
            return 0
        if not args.check:
            print(format_deps(stage_dependencies(args.paper, root)))
            return 0
        missing, extra = check(args.paper, root)
    except (ModuleNotFoundError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not missing and not extra:
        print(f"dvc.yaml stage {args.paper}: deps match its imports")
        return 0
    print(f"dvc.yaml stage {args.paper}: deps differ from what its code imports", file=sys.stderr)
    for label, paths in (("missing (list each file)", missing),
                         ("extra (remove; folders must be listed file by file)", extra)):
        if paths:
            print(f"  {label}:\n" + "\n".join(f"    {p}" for p in paths), file=sys.stderr)
    print(f"Run `python -m repro deps {args.paper}` and paste its output as the stage's deps "
          f"(keep the data/raw/... entries).", file=sys.stderr)
    return 1


def register(subparsers) -> None:
    """Add ``deps PAPER [--check]`` to the ``python -m repro`` sub-commands."""
    parser = subparsers.add_parser(
        "deps", help="print (or --check) a paper stage's dvc.yaml deps",
        description="List the files a paper stage depends on (its notebook, YAML and every "
                    "repro module it imports), as dvc.yaml list items.")
    parser.add_argument("paper", help="paper stage name, e.g. gapdcec")
    parser.add_argument("--check", action="store_true",
                        help="compare with the stage's deps in dvc.yaml; exit 1 if they differ")
    parser.add_argument("--write", action="store_true",
                        help="rewrite the stage's deps in dvc.yaml (keeps its data/raw entries)")
    parser.add_argument("--root", default=None, help="repository root (default: this checkout)")
    parser.set_defaults(func=_run)
