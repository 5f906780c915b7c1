"""Command line: ``python -m repro data fetch|verify NAME...``, ``python -m repro stage PAPER``,
``python -m repro deps PAPER [--check]``, ``python -m repro summary [--check]`` and
``python -m repro cells PAPER [--profile P]``."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from repro.data import cli as data_cli
    from repro import deps, pipeline, summary
    from repro.papers import cells

    parser = argparse.ArgumentParser(prog="python -m repro", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    data_cli.register(subparsers)
    pipeline.register(subparsers)
    deps.register(subparsers)
    summary.register(subparsers)
    cells.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
