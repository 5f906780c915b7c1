"""What every paper's notebook shows, top-down: results first, then how they were obtained.

A notebook is a title, a ``parameters`` cell (the profile), then::

    outcome = runner.run(PAPER, profile)       # the training log goes to run.log
    show_headline(outcome)                     # claims with verdicts + paper-vs-reproduced table
    show_figures(outcome, [...])               # the paper's figures, reproduced
    show_conditions(outcome)                   # profile, data, seeds, backend, device, time
    show_differences(outcome)                  # what this profile changed from the paper
    ... the paper's own sections, then the method notes (the paper module's docstring).

Every function takes the :class:`repro.papers.runner.Outcome` and displays Markdown, tables
and images; nothing here prints a machine path.
"""

from __future__ import annotations

import pandas as pd

from repro.report.formatting import decimals_by_metric, markdown_table
from repro.report.writers import (RULE_TEXT, _paper_grid, basis_text, by_dataset_lines,
                                  profile_banner)


def _display(*objects) -> None:
    from IPython.display import display

    display(*objects)


def _markdown(text: str):
    from IPython.display import Markdown

    return Markdown(text)


def headline_markdown(outcome) -> str:
    """The profile banner, every claim with its verdict, then the paper-shaped table(s)."""
    reported, claims = outcome.reported, outcome.claims
    lines = [profile_banner(outcome.profile, outcome.protocol), "", "### The paper's claims", "",
             RULE_TEXT.format(alpha=f"{reported.alpha:g}", level=f"{100 * (1 - reported.alpha):g}"),
             "Every comparison with its interval: `claims.md` and `claim_tests.csv`.", ""]
    lines.append(markdown_table(pd.DataFrame({
        "Id": claims["claim_id"], "Claim": claims["statement"],
        "Basis": [basis_text(b, t) for b, t in zip(claims["basis"], claims["tolerance_source"])],
        "Verdict (this run)": claims["verdict_shown"],
        "On the paper's own numbers": claims["paper_verdict"]})))
    lines += by_dataset_lines(reported, outcome.tests, outcome.profile)
    rejudged = outcome.provenance.get("extra", {}).get("rejudged")
    if rejudged:
        lines += ["", f"*Re-judged* on {rejudged['at_utc']} at commit "
                      f"`{rejudged['git'].get('sha', 'unknown')[:12]}` from the stored numbers of "
                      f"the run at `{rejudged['results_from'][:12]}` (no training)."]
    comparison = outcome.comparison
    decimals = decimals_by_metric(comparison)
    for table_key, caption in reported.captions.items():
        part = comparison[comparison["table"] == table_key]
        if len(part):
            lines += ["", f"### {caption}", "",
                      "Reproduced mean ± std over seeds (the paper's number in parentheses); "
                      "per-cell verdicts and notes: `comparison.md`.", "",
                      markdown_table(_paper_grid(part, reported, decimals))]
    if outcome.not_run:
        lines += ["", "**Not run**: " + "; ".join(why.removeprefix("not run: ")
                                                    for why in outcome.not_run.values())]
    lines += pending_lines(outcome.provenance)
    return "\n".join(lines)


def pending_lines(provenance: dict) -> list[str]:
    """The cells a partial run left pending: how many, their projected time, the commands
    that finish them (:mod:`repro.papers.selection`); nothing when none is pending."""
    pending = (provenance.get("extra") or {}).get("pending") or {}
    if not pending.get("cells"):
        return []
    finish = pending.get("finish") or {}
    return ["", f"**Pending**: {pending['cells']} cell(s) of this profile's plan are not run "
                f"yet (not stored, not computed by this run); the verdicts that need them are "
                f"*pending*. Projected: {pending.get('projected', 'no estimate')}. Finish them "
                "(each cell is stored as it ends; a later run resumes):", "",
            *[f"- on {where}: `{command}`" for where, command in finish.items()]]


def show_headline(outcome) -> None:
    _display(_markdown(headline_markdown(outcome)))


def show_figures(outcome, names=None) -> None:
    """The named figures (default: all of them, Table 1 first), as images."""
    from IPython.display import Image

    names = names or sorted(outcome.figures, key=lambda n: (n != "table1", n))
    for name in names:
        if name in outcome.figures:
            _display(Image(filename=str(outcome.figures[name])))


def conditions_markdown(outcome) -> str:
    """Profile, data actually used, seeds, backend, device, git state, wall times."""
    prov = outcome.provenance
    device, git = prov["device"], prov["git"]
    dirty = "clean" if git.get("dirty") is False else \
        f"dirty: {', '.join(git.get('dirty_files') or []) or 'unknown'}"
    lines = [
        f"- **profile**: `{prov['profile']}` ({outcome.protocol or 'the paper protocol'}); "
        f"**seeds**: {prov['seeds']}",
        f"- **Keras backend**: {prov['keras_backend']}; **computed on**: "
        f"{prov['extra'].get('compute_device', 'unknown')}; **machine**: {device.get('cpu')} "
        f"({device.get('cores_logical')} logical cores, {device.get('ram_gb')} GB RAM); "
        f"**accelerators seen**: {device.get('gpus') or 'none'}",
        f"- **git**: `{git.get('sha', 'unknown')[:12]}` ({dirty}); **started** "
        f"{prov['started_utc']} UTC",
        f"- **total wall time**: {prov['wall_time_s']['total_s'] / 60:.1f} min",
        f"- **re-run data** (same seeds re-run on another CPU or thread count): "
        f"{prov['extra'].get('rerun_data', prov['extra'].get('rerun_spread', 'not measured'))}",
        "- **packages**: " + ", ".join(f"{k} {v}" for k, v in prov["packages"].items() if v),
        "", "**Data actually used** (sha256 of each file):", ""]
    lines += [f"- {name}: " + ", ".join(f"`{f}` {h[:16]}…" for f, h in files.items())
              for name, files in prov["datasets"].items()]
    lines += [f"- {why}" for why in outcome.not_run.values()]
    return "\n".join(lines)


def wall_time_frame(outcome) -> pd.DataFrame:
    """provenance.wall_time_s as a table: dataset, what (method or shared work), minutes."""
    rows = [dict(zip(("dataset", "what"), key.split("/", 1)), seconds=round(value, 1))
            for key, value in outcome.provenance["wall_time_s"].items() if "/" in key]
    return pd.DataFrame(rows, columns=["dataset", "what", "seconds"])


def rerun_frame(outcome) -> pd.DataFrame | None:
    """The measured re-run movement of this paper and profile (points), or None."""
    from repro.report.rerun import read_rerun, rerun_path, rerun_summary

    path = rerun_path(outcome.paper, outcome.profile)
    if not path.is_file():
        return None
    frame = read_rerun(path)
    runs = f"{frame['reference_run'].iloc[0]} vs {frame['rerun_run'].iloc[0]}"
    wide = rerun_summary(frame).pivot_table(index=["dataset", "method"], columns="metric",
                                            values="max_abs_diff", sort=False)
    return (wide * 100).round(2).rename_axis(columns=f"max |re-run - run|, points ({runs})")


def show_conditions(outcome) -> None:
    _display(_markdown(conditions_markdown(outcome)))
    _display(_markdown("**Wall time** -- " + outcome.provenance["extra"]["wall_time_definition"]))
    _display(wall_time_frame(outcome))
    moved = rerun_frame(outcome)
    if moved is None:
        _display(_markdown(
            "**What a re-run moves**: not measured for this stage and profile "
            "(`benchmarks/rerun_spread.py` records it); the claims' intervals use the seed "
            "variance alone."))
    else:
        _display(_markdown(
            "**What a re-run moves.** The same report (same code, seeds and package versions) "
            "re-run on another CPU or thread count moved these cells (largest over seeds). The "
            "order of float sums, which another CPU's kernels or another thread count change, "
            "is amplified by training. Every claim's test adds the re-run variance of its "
            "difference, measured on these paired values."))
        _display(moved)


def departures_frame(outcome) -> pd.DataFrame:
    """Every way this profile's run departs from the paper's text (the YAML's departures)."""
    rows = [{"setting": d.setting, "the paper": d.paper, "this run": d.ours, "why": d.reason,
             "our setting's source": d.source}
            for d in outcome.reported.departures_for(outcome.profile)]
    return pd.DataFrame(rows, columns=["setting", "the paper", "this run", "why",
                                       "our setting's source"])


def gates_frame(outcome) -> pd.DataFrame | None:
    """The validity checks made (chance band, loss falls, dynamic range), failures first."""
    gates = getattr(outcome, "gates", None)
    if gates is None or not gates.table:
        return None
    frame = gates.frame().sort_values("passes", kind="stable")
    return frame.round({"value": 4, "threshold": 4}).reset_index(drop=True)


def show_differences(outcome) -> None:
    """How this run departs from the paper: its text (every profile), then this profile's
    budget against the paper profile's, then the validity gates."""
    departures = departures_frame(outcome)
    _display(_markdown(
        f"**Departures from the paper's text** ({len(departures)}): every way this run departs "
        "from what the paper states, why, and where our setting comes from "
        "(`src/repro/papers/<paper>.yaml`, `departures`)."))
    if len(departures):
        _display(_markdown(markdown_table(departures)))
    table = outcome.difference_table
    if table.empty:
        _display(_markdown("**Budget**: the `paper` profile's, unchanged."))
    else:
        _display(_markdown(f"**Budget**: {len(table)} settings of this profile differ from the "
                           "`paper` profile (the settings that ran, per dataset; also in "
                           "provenance.json):"))
        _display(table.set_index(["dataset", "setting"]))
    gates = gates_frame(outcome)
    if gates is not None:
        failing = gates[~gates["passes"]]
        _display(_markdown(
            f"**Validity gates**: {len(failing)} of {len(gates)} checks fail (chance band, loss "
            "below its trivial value, a stand-in's dynamic range; thresholds and their reasons in "
            "the paper's YAML, `gates`). A claim resting on a failing cell is *untestable* there."
            + ("" if len(failing) else " Every cell passes.")))
        if len(failing):
            _display(failing.reset_index(drop=True))
