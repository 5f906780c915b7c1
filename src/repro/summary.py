"""One page across the five papers: which numbers and claims hold? ``python -m repro summary``.

Everything is read from the paper stages' files -- ``reports/<paper>/<profile>/comparison.csv``,
``claims.csv`` and ``provenance.json`` -- nothing is typed. A paper whose stage has not run, or
whose files are missing or malformed, gets a row that says so and why, instead of breaking the
page. Written (the ``summary`` DVC stage):

* ``reports/README.md`` (GitHub shows it on the reports folder) and ``reports/index.html``:
  one row per paper and profile (reported cells: reproduced / within / deviates / not
  comparable / not run, and how many were reproduced on stand-in data; claims: holds / fails / inconclusive; data actually used, seeds,
  device, wall time; links), then every claim with its verdict and the protocol it was judged
  under;
* ``figures/summary/overview.png``: reproduced against reported for every comparable cell
  (verdict within, deviates or inconclusive) of every paper, the diagonal and each paper's tolerance band;
* the headline table in the top-level README.md, between its markers (``--check`` fails when
  it is stale; the tests run it).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

START, END = "<!-- summary:start (python -m repro summary) -->", "<!-- summary:end -->"
# stage -> (paper, what it reproduces): the five papers of the repository, in reading order
STAGES = {
    "dqn": ("Cao et al. AAAI 2016, DQN", "retrieval mAP at 12/24/32/48 bits"),
    "gapdcec": ("Kolla & VenuGopal 2018, GAPDCEC", "Table 1: ACC, NMI on MNIST-full, MNIST-test, USPS"),
    "pqdec": ("Kolla & VenuGopal, PQDEC", "Table 1: clustering speed and memory"),
    "ucnn": ("Hsu & Lin, ICIP 2017, UCNN", "NMI, run time and memory"),
    "deepcluster": ("Caron et al. 2018, DeepCluster", "linear probes on conv1..conv5"),
}
VERDICTS = ("within", "deviates", "inconclusive", "not comparable", "not run")
OUTCOMES = ("holds", "fails", "inconclusive")
CLAIM_COUNTS = "decisive claims holds / fails / inconclusive"
INDICATIVE_COUNTS = "indicative claims holds / fails / inconclusive"
OTHER_COUNTS = "claims untestable / not run"
PENDING = "pending cells / claims"   # a partial run's (repro.papers.selection); shown when any
REQUIRED = {"comparison.csv": ["table", "dataset", "method", "metric", "unit", "reported",
                               "reproduced_mean", "verdict"],
            "claims.csv": ["claim_id", "statement", "verdict"],
            "provenance.json": ["profile", "seeds", "datasets", "wall_time_s", "device"]}


@dataclass
class StageReport:
    """What one paper's report (one profile) says, or why it cannot be read."""

    stage: str
    profile: str | None
    problem: str = ""                         # "" = readable
    comparison: pd.DataFrame | None = None
    claims: pd.DataFrame | None = None
    provenance: dict = field(default_factory=dict)
    tests: pd.DataFrame | None = None         # claim_tests.csv (paper profile, where written)

    def link(self, html: bool = False) -> str:
        """The report folder (or, for the HTML page, its executed notebook), relative to reports/."""
        if not self.profile:
            return ""
        return f"{self.stage}/{self.profile}/" + (f"{self.stage}.html" if html else "")


def read_stage(root: Path, stage: str, profile: str) -> StageReport:
    """The report of ``stage`` under ``profile``; ``problem`` names a missing or malformed file."""
    folder = root / "reports" / stage / profile
    tables = {}
    for name, columns in REQUIRED.items():
        path = folder / name
        if not path.is_file():
            return StageReport(stage, profile, problem=f"{name} missing")
        try:
            tables[name] = json.loads(path.read_text()) if name.endswith(".json") else \
                pd.read_csv(path, dtype={"variant": str})
        except (ValueError, pd.errors.ParserError) as exc:
            return StageReport(stage, profile, problem=f"{name} malformed: {exc}")
        missing = [c for c in columns if c not in tables[name]]
        if missing:
            return StageReport(stage, profile, problem=f"{name} malformed: lacks {missing}")
    tests = None
    if profile == "paper" and (folder / "claim_tests.csv").is_file():
        try:
            tests = pd.read_csv(folder / "claim_tests.csv", dtype={"variant": str},
                                keep_default_na=False, na_values=[""])
        except (ValueError, pd.errors.ParserError) as exc:
            return StageReport(stage, profile, problem=f"claim_tests.csv malformed: {exc}")
        for flag in ("pending", "stand_in"):   # booleans (read as text where a value is empty)
            if flag in tests:
                tests[flag] = tests[flag].astype(str) == "True"
    return StageReport(stage, profile, comparison=tables["comparison.csv"],
                       claims=tables["claims.csv"], provenance=tables["provenance.json"],
                       tests=tests)


def collect(root: Path) -> list[StageReport]:
    """Every paper and every profile it has a report folder for (a stage without one: not run)."""
    reports = []
    for stage in STAGES:
        folders = sorted(p.name for p in (root / "reports" / stage).glob("*") if p.is_dir()
                         and not p.name.startswith("."))
        if not folders:
            reports.append(StageReport(stage, None, problem="not run yet: no report"))
        reports += [read_stage(root, stage, profile) for profile in folders]
    return reports


def headline_frame(reports: list[StageReport], link_prefix: str = "", html: bool = False
                   ) -> pd.DataFrame:
    """One row per paper and profile: cell verdicts, claim outcomes, conditions."""
    rows = []
    for r in reports:
        paper, what = STAGES[r.stage]
        row = {"paper": f"{paper}: {what}", "profile": r.profile or "-"}
        if r.problem:
            row["report"] = r.problem
            rows.append(row)
            continue
        cells = r.comparison[r.comparison["table"].fillna("") != ""]
        stand_in = cells["note"].fillna("").str.contains("stand-in data for") \
            if "note" in cells else pd.Series(False, index=cells.index)
        paper_cells, stand_ins = cells[~stand_in], cells[stand_in]
        counts = paper_cells["verdict"].value_counts()
        row["reported cells"] = str(len(paper_cells))
        row["reproduced"] = str(int(paper_cells["reproduced_mean"].notna().sum()))
        row.update({v: str(int(counts.get(v, 0))) for v in VERDICTS})
        row["on stand-in data"] = str(int(stand_ins["reproduced_mean"].notna().sum()))
        strength = r.claims["strength"] if "strength" in r.claims else \
            pd.Series(["indicative"] * len(r.claims), index=r.claims.index)  # a report from before
        for column, kind in ((CLAIM_COUNTS, "decisive"), (INDICATIVE_COUNTS, "indicative")):
            outcomes = r.claims.loc[strength == kind, "verdict"].value_counts()
            row[column] = " / ".join(str(int(outcomes.get(o, 0))) for o in OUTCOMES)
        row[OTHER_COUNTS] = " / ".join(str(int((strength == k).sum()))
                                       for k in ("untestable", "not run"))
        row.update(_conditions(r.provenance))
        row["report"] = f"[{r.link()}]({link_prefix}{r.link(html)})"
        cells, claims = pending_counts(r)
        if cells or claims:
            row[PENDING] = f"{cells} / {claims}"
        rows.append(row)
    pending = [PENDING] if any(PENDING in row for row in rows) else []
    columns = ["paper", "profile", "reported cells", "reproduced", *VERDICTS, *pending,
               "on stand-in data", CLAIM_COUNTS, INDICATIVE_COUNTS, OTHER_COUNTS, "data used",
               "seeds", "device", "wall time", "report"]
    return pd.DataFrame(rows).reindex(columns=columns).astype(object).fillna("")


def pending_counts(r: StageReport) -> tuple[int, int]:
    """(cells of the profile's plan not run yet, claims waiting for them) of a partial run
    (:mod:`repro.papers.selection`); (0, 0) for a whole run or a report from before."""
    if r.problem:
        return 0, 0
    cells = int(((r.provenance.get("extra") or {}).get("pending") or {}).get("cells") or 0)
    claims = int((r.claims["verdict"] == "pending").sum()) if "verdict" in r.claims else 0
    return cells, claims


def _conditions(prov: dict) -> dict:
    device = prov.get("device", {})
    gpus = device.get("gpus")
    return {"data used": ", ".join(prov.get("datasets", {})) or "none",
            "seeds": ", ".join(str(s) for s in prov.get("seeds", [])),
            "device": f"{device.get('cpu', '?')}" + (f" + {', '.join(gpus)}"
                                                     if isinstance(gpus, list) and gpus else "")
                      + f" ({prov.get('keras_backend', '?')})",
            "wall time": f"{prov['wall_time_s'].get('total_s', float('nan')) / 60:.1f} min"}


def claims_frame(reports: list[StageReport]) -> pd.DataFrame:
    """Every claim of every readable report: paper, profile, claim, verdict with its protocol."""
    rows = []
    for r in reports:
        if r.problem:
            continue
        from repro.report.claims import shown_verdict

        shown = r.claims["verdict_shown"] if "verdict_shown" in r.claims else \
            [shown_verdict(v, "indicative", r.profile) for v in r.claims["verdict"]]
        basis = r.claims["basis"] if "basis" in r.claims else pd.Series([""] * len(r.claims))
        for statement, verdict, base in zip(r.claims["statement"], shown, basis):
            rows.append({"paper": r.stage, "profile": r.profile, "claim": statement,
                         "basis": {"text": "paper's text", "table": "read off its table"}.get(base, ""),
                         "verdict (strength, profile)": verdict})
    return pd.DataFrame(rows, columns=["paper", "profile", "claim", "basis",
                                       "verdict (strength, profile)"])


def conclusions(reports: list[StageReport]) -> dict[str, str]:
    """One computed sentence per paper: what can be concluded from its reports now."""
    out = {}
    for stage in STAGES:
        mine = [r for r in reports if r.stage == stage and not r.problem]
        if not mine:
            out[stage] = "No report yet."
            continue
        parts = []
        decisive = [(r, r.claims[r.claims.get("strength", pd.Series(dtype=str)) == "decisive"])
                    for r in mine if "strength" in r.claims]
        n_decisive = sum(len(c) for _, c in decisive)
        if n_decisive:
            counts = pd.concat([c["verdict"] for _, c in decisive]).value_counts()
            parts.append(f"Decisive (paper profile): {_count_words(counts)}.")
        else:
            by_dataset = _decisive_by_dataset([r for r in mine if r.profile == "paper"])
            profiles = sorted({r.profile for r in mine})
            why = "no paper-profile run yet" if "paper" not in profiles else \
                "the paper-profile run lacks the paper's data or number of runs"
            parts.append(f"Decisive per dataset (paper profile; whole claims wait on other "
                         f"datasets): {by_dataset}." if by_dataset else
                         f"Nothing decisive yet ({why}).")
        for r in mine:
            strength = r.claims["strength"] if "strength" in r.claims else \
                pd.Series(["indicative"] * len(r.claims), index=r.claims.index)
            indicative = r.claims.loc[strength == "indicative", "verdict"].value_counts()
            other = {k: int((strength == k).sum()) for k in ("untestable", "not run")}
            text = f"Under `{r.profile}`, indicative only: {_count_words(indicative) or 'none'}"
            extra = [f"{n} {k}" for k, n in other.items() if n]
            cells, claims = pending_counts(r)
            if cells or claims:
                extra.append(f"{claims} pending, waiting for {cells} cell(s) not run yet")
            parts.append(text + (f"; {', '.join(extra)}" if extra else "") + ".")
        out[stage] = " ".join(parts)
    return out


def _decisive_by_dataset(reports: list[StageReport]) -> str:
    """"USPS: 2 holds, 1 fails" -- the claims decided decisively on a dataset of a paper-profile
    run (:func:`repro.report.claims.dataset_verdicts`), while the whole claims are pending."""
    from repro.report.claims import dataset_verdicts
    from repro.report.reported import load_reported

    parts = []
    for r in reports:
        if r.tests is None or not len(r.tests):
            continue
        paper = load_reported(r.stage)
        verdicts = dataset_verdicts(paper, r.tests, profile="paper")
        decisive = verdicts[verdicts["strength"] == "decisive"]
        for dataset, part in decisive.groupby("dataset", sort=False):
            parts.append(f"{paper.label(dataset)}: {_count_words(part['verdict'].value_counts())}")
    return "; ".join(parts)


def _count_words(counts) -> str:
    return ", ".join(f"{int(counts[o])} {o}" for o in ("holds", "fails", "inconclusive")
                     if int(counts.get(o, 0)))


def markdown(frame: pd.DataFrame) -> str:
    from repro.report.formatting import markdown_table

    return markdown_table(frame)


def overview_figure(reports: list[StageReport], path: Path) -> Path:
    """Reproduced vs reported for every comparable cell (verdict within, deviates or inconclusive): one
    panel per paper and unit (each in the paper's printed unit, so fractions and
    percentages never share an axis), points coloured by method (the project's palette,
    :func:`repro.report.palette.method_color`), marker by metric; the diagonal and the
    paper's tolerance band (from its YAML) in grey."""
    import math

    from matplotlib.lines import Line2D

    from repro.report.figures import new_figure, save_png
    from repro.report.palette import method_color
    from repro.report.reported import load_reported
    from repro.report.units import canonical_unit, convert

    panels = []
    for r in (x for x in reports if not x.problem):
        cells = r.comparison[r.comparison["verdict"].isin(["within", "deviates", "inconclusive"])]
        for unit, part in cells.groupby("unit", sort=False):
            panels.append((r, unit, part))
    cols = min(3, max(1, len(panels)))
    rows = math.ceil(max(1, len(panels)) / cols)
    figure = new_figure((4.8 * cols + 0.4, 4.6 * rows + 0.4))
    axes = figure.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    if not panels:
        axes[0, 0].text(0.5, 0.5, "no comparable cell in any report yet", ha="center",
                        va="center", transform=axes[0, 0].transAxes)
    markers = ("o", "s", "^", "D", "v", "P")
    for ax, (r, unit, part) in zip(axes.flat, panels):
        paper = load_reported(r.stage)
        labels = paper.labels()
        metrics = list(dict.fromkeys(part["metric"]))
        for method, cells in part.groupby("method", sort=False):
            for m, metric in enumerate(metrics):
                pts = cells[cells["metric"] == metric]
                if len(pts):
                    ax.scatter(pts["reported"], pts["reproduced_mean"], s=30,
                               color=method_color(method), marker=markers[m % len(markers)],
                               edgecolor="white", linewidth=0.4, zorder=3)
        tolerances = [t for t in (paper.tolerance_for(m) for m in metrics) if t is not None]
        band = convert(max(tolerances), canonical_unit(unit), unit) if tolerances else 0.0
        values = part[["reported", "reproduced_mean"]].to_numpy(float)
        low, high = float(values.min()), float(values.max())
        pad = max(0.08 * (high - low), band, 0.05 * max(abs(high), 1e-9))
        low, high = low - pad, high + pad
        if tolerances:
            ax.fill_between([low, high], [low - band, high - band], [low + band, high + band],
                            color="gray", alpha=0.15, linewidth=0,
                            label=f"tolerance ± {band:g} {unit}")
        ax.plot([low, high], [low, high], color="black", linewidth=0.8,
                label="reproduced = reported")
        ax.set_xlim(low, high), ax.set_ylim(low, high)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(f"reported ({unit})"), ax.set_ylabel(f"reproduced, mean over seeds ({unit})")
        ax.set_title(f"{r.stage} ({r.profile}): {len(part)} cell{'s' * (len(part) != 1)} in "
                     f"{unit}", fontsize=10)
        ax.grid(alpha=0.3)
        handles, _ = ax.get_legend_handles_labels()
        handles += [Line2D([], [], linestyle="none", marker="o", color=method_color(k),
                           label=labels.get(k, k)) for k in dict.fromkeys(part["method"])]
        if len(metrics) > 1:
            handles += [Line2D([], [], linestyle="none", marker=markers[m % len(markers)],
                               color="black", markerfacecolor="none",
                               label=f"marker: {labels.get(k, k)}")
                        for m, k in enumerate(metrics)]
        ax.legend(handles=handles, fontsize=7, loc="best")
    figure.suptitle("Every comparable cell: reproduced vs reported, one panel per paper and unit")
    save_png(figure, path)
    return path


PENDING_TEXT = (
    " *Pending cells / claims*: a partial run (`--only`, `--budget-min`) has not yet computed "
    "that many cells of its profile's plan (not stored either; unlike *not run*: data absent), "
    "and that many claims wait for them; its report gives their projected time and the command "
    "that computes them (README: \"Decisive verdicts and pending cells\").")


def page(reports: list[StageReport], html: bool = False) -> str:
    """reports/README.md (``html``: the same text for index.html, linking the notebooks)."""
    return "\n".join([
        "# Which of the five papers' numbers and claims hold?", "",
        "Generated by `python -m repro summary` from each stage's comparison.csv, claims.csv and "
        "provenance.json (the `summary` DVC stage); nothing on this page is typed. A verdict "
        "holds for the profile named beside it: `quick` is a reduced budget, not the paper's "
        "protocol.", "",
        "## What can be concluded now", "",
        *[f"- **{STAGES[stage][0]}**: {text}" for stage, text in conclusions(reports).items()], "",
        "A verdict is *decisive* only under the paper profile, on the paper's own data, with the "
        "paper's number of runs (5 where it names none); a reduced profile or a stand-in gives "
        "*indicative* verdicts; a claim resting on a cell that did not train or on a stand-in "
        "without dynamic range is *untestable* (README: \"How a claim is judged\").", "",
        "## Per paper and profile", "", markdown(headline_frame(reports, html=html)),
        "Reported cells, from the 95% interval of reproduced - reported against the tolerance: "
        "*within*, *deviates*, *inconclusive* (the interval straddles the tolerance; always for "
        "one seed), *not comparable* (no tolerance: machine-dependent seconds), *not run* (data "
        "absent or not in this profile). *On stand-in data*: cells reproduced on a stand-in for "
        "the paper's dataset (same protocol, data we have), shown beside the paper's number and "
        "never compared." + (PENDING_TEXT if any(any(pending_counts(r)) for r in reports)
                             else ""), "",
        "![reproduced vs reported](../figures/summary/overview.png)", "",
        "## Every claim", "", markdown(claims_frame(reports))])


def html_page(markdown_text: str) -> str:
    """reports/index.html: the same page as HTML (figures linked, relative to reports/)."""
    import mistune

    body = mistune.create_markdown(plugins=["table"])(markdown_text)
    style = ("body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
             "padding:3px 6px;text-align:left}img{max-width:700px}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Summary</title>"
            f"<style>{style}</style></head><body>{body}</body></html>\n")


def readme_block(reports: list[StageReport]) -> str:
    """The headline table for the top-level README (links relative to the repository root)."""
    frame = headline_frame(reports, link_prefix="reports/")
    keep = ["paper", "profile", "reported cells", "within", "deviates", "inconclusive",
            "not comparable", "not run", *[c for c in (PENDING,) if c in frame],
            "on stand-in data", CLAIM_COUNTS, INDICATIVE_COUNTS, OTHER_COUNTS, "device",
            "wall time", "report"]
    return markdown(frame[keep]).rstrip("\n")


def updated_readme(text: str, block: str) -> str:
    if START not in text or END not in text:
        raise ValueError(f"README.md lacks the markers {START!r} ... {END!r}")
    head, rest = text.split(START, 1)
    return f"{head}{START}\n{block}\n{END}{rest.split(END, 1)[1]}"


def write_summary(root: Path) -> list[Path]:
    """Write reports/README.md, reports/index.html, the overview figure and the README block."""
    from repro.report.atomic import write_text_atomic

    reports = collect(root)
    written = [write_text_atomic(root / "reports" / "README.md", page(reports)),
               write_text_atomic(root / "reports" / "index.html", html_page(page(reports, html=True))),
               overview_figure(reports, root / "figures" / "summary" / "overview.png")]
    readme = root / "README.md"
    new = updated_readme(readme.read_text(encoding="utf-8"), readme_block(reports))
    if new != readme.read_text(encoding="utf-8"):
        written.append(write_text_atomic(readme, new))
    return written


def register(subparsers) -> None:
    parser = subparsers.add_parser("summary", help="the page across all papers (reports/README.md)")
    parser.add_argument("--check", action="store_true",
                        help="only check that README.md's headline table is current")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from repro.config import repo_root

    root = repo_root()
    if args.check:
        text = (root / "README.md").read_text(encoding="utf-8")
        if updated_readme(text, readme_block(collect(root))) != text:
            print("README.md's headline table is stale: run `python -m repro summary`",
                  file=sys.stderr)
            return 1
        return 0
    for path in write_summary(root):
        print(f"[summary] wrote {path.relative_to(root)}")
    return 0
