"""One module per paper (its experiment) plus ``<paper>.yaml``: the paper's reported numbers
and claims as data (schema: :mod:`repro.report.reported`; load with
:func:`repro.report.reported.load_reported`).

What both the stage command (:mod:`repro.pipeline`) and the runner
(:mod:`repro.papers.runner`) need to know about the papers lives here, so that neither imports
the other: :data:`PAPERS` and :func:`output_dirs`."""

from __future__ import annotations

from pathlib import Path


def _discover_papers() -> tuple[str, ...]:
    """Every paper of this package: a module with its reported-numbers YAML beside it
    (``<paper>.py`` + ``<paper>.yaml``), so adding a paper does not touch this file (which
    every stage imports: editing it would re-run them all)."""
    folder = Path(__file__).parent
    return tuple(sorted(path.stem for path in folder.glob("*.py")
                        if not path.stem.startswith("_") and (folder / f"{path.stem}.yaml").is_file()))


PAPERS = _discover_papers()


def check_paper(paper: str) -> None:
    """A :class:`~repro.config.ConfigError` naming the known papers if ``paper`` is none."""
    if paper not in PAPERS:
        from repro.config import ConfigError

        raise ConfigError(f"unknown paper {paper!r}; known: {', '.join(PAPERS)}")


def output_dirs(paper: str, profile: str, root: Path | None = None) -> tuple[Path, Path]:
    """(reports/<paper>/<profile>, figures/<paper>/<profile>) under the repository root."""
    if root is None:
        from repro.config import repo_root

        root = repo_root()
    return root / "reports" / paper / profile, root / "figures" / paper / profile
