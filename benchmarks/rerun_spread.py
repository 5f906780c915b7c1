"""Measure how far a stage's numbers move when the same run is repeated on another machine.

Same code, same seeds, same package versions, another CPU: compare two results.csv of one
paper and profile, cell by cell and seed by seed, and write the re-run spread the claims use
(``benchmarks/results/rerun_spread/<paper>-<profile>.csv``, read by
:mod:`repro.papers.runner`; format in :mod:`repro.report.rerun`). A reference may be a file
or ``git:REV``, the committed report of that revision.

    python benchmarks/rerun_spread.py gapdcec quick --reference git:26826be \\
        --rerun /path/to/other/reports/gapdcec/quick

Each side is a report folder (results.csv and provenance.json, whose CPU model is recorded).
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
from repro.report.rerun import rerun_spread, rerun_spread_path


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
    args = parser.parse_args(argv)
    (ref, ref_prov), (new, new_prov) = (read_report(w, args.paper, args.profile)
                                        for w in (args.reference, args.rerun))
    for prov, where in ((ref_prov, args.reference), (new_prov, args.rerun)):
        if prov.get("profile") != args.profile:
            sys.exit(f"{where}: profile {prov.get('profile')!r}, not {args.profile!r}")
    spread = rerun_spread(ref, new, reference_cpu=ref_prov["device"]["cpu"],
                          rerun_cpu=new_prov["device"]["cpu"])
    path = write_csv_atomic(rerun_spread_path(args.paper, args.profile), spread)
    print(f"{len(spread)} cells, {ref_prov['device']['cpu']} vs {new_prov['device']['cpu']} -> {path}")
    wide = spread.pivot_table(index=["dataset", "method"], columns="metric", values="max_abs_diff")
    print((wide * 100).round(2).to_string(), "\n(max |difference| over seeds, percentage points)")
    print(verdict_check(args.paper, ref, new, path).to_string(index=False))
    return 0


def verdict_check(paper: str, reference: pd.DataFrame, rerun: pd.DataFrame, spread_path: Path
                  ) -> pd.DataFrame:
    """Each claim's verdict on both runs, with and without the spread in the noise floor:
    with it, a verdict must not flip between the two machines."""
    from repro.report.claims import evaluate_claims
    from repro.report.reported import load_reported
    from repro.report.rerun import read_rerun_spread

    reported, spread = load_reported(paper), read_rerun_spread(spread_path)
    columns = {}
    for name, results in (("reference", reference), ("rerun", rerun)):
        for label, floor in (("", {}), (" + spread", spread)):
            claims = evaluate_claims(reported, results, rerun_spread=floor)
            columns[f"{name}{label}"] = claims.set_index("claim_id")["verdict"]
    table = pd.DataFrame(columns)
    table["flips without spread"] = table["reference"] != table["rerun"]
    table["flips with spread"] = table["reference + spread"] != table["rerun + spread"]
    return table.reset_index()


if __name__ == "__main__":
    sys.exit(main())
