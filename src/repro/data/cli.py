"""``python -m repro data {fetch,verify,list} NAME...``.

The lead's ``repro/__main__.py`` calls :func:`register` on its sub-parsers and then
``args.func(args)``, whose return value is the exit code. ``python -m repro.data.cli`` runs
the same commands on their own (see :func:`main`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from repro.data.dataset import FileRecord, fetch_records, verify_records
from repro.data.errors import DatasetError
from repro.data.registry import DATASETS


def _run_each(names: Sequence[str], action: Callable[[str], list[FileRecord]]) -> int:
    """Run ``action`` per dataset, print one line per file; 1 if any dataset failed."""
    exit_code = 0
    for name in names:
        try:
            records = action(name)
        except DatasetError as error:
            print(f"error: {error}", file=sys.stderr)
            exit_code = 1
            continue
        for record in records:
            print(f"{record.status:<10} {record.path}  sha256={record.sha256}")
    return exit_code


def run_fetch(args: argparse.Namespace) -> int:
    """Copy (from a mirror) or download each dataset's files into data/raw, verified."""
    return _run_each(args.names, fetch_records)


def run_verify(args: argparse.Namespace) -> int:
    """Find and checksum-verify each dataset's files (no download)."""
    return _run_each(args.names, lambda name: [
        FileRecord("ok" if r.file.verified else "unverified", r.path, r.sha256, r.file)
        for r in verify_records(name)
    ])


def run_list(args: argparse.Namespace) -> int:
    """Print every registered dataset with its files and sha256."""
    for spec in DATASETS.values():
        print(f"{spec.name:<11} {spec.description}")
        for f in spec.all_files:
            if f.sha256:
                checksum = f.sha256
            elif f.folder:
                checksum = "none-published (a folder, used unverified; its listing is recorded)"
            else:
                checksum = "none-published (used unverified)"
            print(f"    {f.subfolder}/{f.filename}{'/' if f.folder else ''}  sha256={checksum}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``data`` sub-command (``fetch``, ``verify``, ``list``) to ``subparsers``."""
    parser = subparsers.add_parser(
        "data", help="fetch or verify the datasets",
        description="Fetch (copy from a REPRO_DATA_MIRRORS folder or download) and "
                    "checksum-verify the datasets under data/raw.")
    commands = parser.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    for command, func, text in (
        ("fetch", run_fetch, "make the files present and verified in data/raw"),
        ("verify", run_verify, "find and sha256-verify the files (no download)"),
    ):
        sub = commands.add_parser(command, help=text, description=text)
        sub.add_argument("names", nargs="+", metavar="NAME",
                         help=f"dataset name: {', '.join(DATASETS)}")
        sub.set_defaults(func=func)
    commands.add_parser("list", help="list datasets, files and sha256").set_defaults(func=run_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m repro.data.cli data verify mnist-test``."""
    parser = argparse.ArgumentParser(prog="python -m repro.data.cli")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
