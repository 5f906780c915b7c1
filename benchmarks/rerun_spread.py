"""Record how a stage's numbers move when the same run is repeated (re-run data for the claims).

Same code, same seeds, same package versions, another CPU -- or, where no second host is at
hand, another thread count on this one (``TF_NUM_INTRAOP_THREADS=1 OMP_NUM_THREADS=1``):
pair two results.csv of one paper and profile, cell by cell and seed by seed, and write
``benchmarks/results/rerun/<paper>-<profile>.csv`` (format in :mod:`repro.report.rerun`),
which every claim's test reads. A side is a report folder or ``git:REV`` (the committed
report of that revision).

    python benchmarks/rerun_spread.py gapdcec quick --reference git:26826be --rerun git:1433da9 \\
        --reference-run "Intel Xeon, 2 threads" --rerun-run "AMD EPYC, 2 threads"
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from repro.config import repo_root
from repro.report.atomic import write_csv_atomic
from repro.report.rerun import rerun_pairs, rerun_path, rerun_summary


def read_report(where: str, paper: str, profile: str) -> tuple[pd.DataFrame, dict]:
    """(results, provenance) of a report folder, or of the committed report at ``git:REV``."""
    if where.startswith("git:"):
        rev, folder = where[4:], f"reports/{paper}/{profile}"
        def show(name):
            done = subprocess.run(["git", "-C", str(repo_root()), "show", f"{rev}:{folder}/{name}"],
                                  capture_output=True, text=True, check=False)
            if done.returncode:
                sys.exit(f"git show {rev}:{folder}/{name} failed: {done.stderr.strip()}")
            return done.stdout
        return pd.read_csv(io.StringIO(show("results.csv"))), json.loads(show("provenance.json"))
    folder = Path(where)
    for name in ("results.csv", "provenance.json"):
        if not (folder / name).is_file():
            sys.exit(f"{folder / name}: missing (give a report folder or git:REV)")
    return (pd.read_csv(folder / "results.csv", dtype={"variant": str}, keep_default_na=False,
                        na_values={"value": [""]}),
            json.loads((folder / "provenance.json").read_text()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paper")
    parser.add_argument("profile")
    parser.add_argument("--reference", required=True, help="report folder or git:REV")
    parser.add_argument("--rerun", required=True, help="report folder or git:REV")
    parser.add_argument("--reference-run", default="", help="how the reference ran (CPU, threads)")
    parser.add_argument("--rerun-run", default="", help="how the re-run ran (CPU, threads)")
    args = parser.parse_args(argv)
    (ref, ref_prov), (new, new_prov) = (read_report(w, args.paper, args.profile)
                                        for w in (args.reference, args.rerun))
    for prov, where in ((ref_prov, args.reference), (new_prov, args.rerun)):
        if prov.get("profile") != args.profile:
            sys.exit(f"{where}: profile {prov.get('profile')!r}, not {args.profile!r}")

    def describe(prov, given, where):
        """"AMD EPYC, 1 thread, git a01bcc7[, git:REV]": how the run ran, never a machine path
        (a report folder is named by the commit its provenance records)."""
        sha = (prov.get("git") or {}).get("sha", "")[:7]
        return ", ".join(x for x in (given or prov["device"]["cpu"], f"git {sha}" if sha else "",
                                     where if where.startswith("git:") else "") if x)

    pairs = rerun_pairs(ref, new, reference_run=describe(ref_prov, args.reference_run, args.reference),
                        rerun_run=describe(new_prov, args.rerun_run, args.rerun))
    path = write_csv_atomic(rerun_path(args.paper, args.profile), pairs)
    summary = rerun_summary(pairs)
    moved = int((pairs["rerun"] != pairs["reference"]).sum())
    print(f"{len(pairs)} (cell, seed) pairs, {moved} moved -> {path}")
    wide = summary.pivot_table(index=["dataset", "method"], columns="metric", values="max_abs_diff")
    print((wide * 100).round(2).to_string(), "\n(max |difference| over seeds, points)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
