"""Reproduced-vs-reported tables, claim verdicts, provenance and figures.

Typical use in a paper's runner (all outputs inside staged folders, swapped in at the end)::

    from repro import report

    reported = report.load_reported("gapdcec")
    results = report.ResultsTable()
    results.add("mnist-full", "dcec", "acc", 0.873, seed=0, unit="fraction")
    ...
    comparison, claims = report.write_report(
        report_dir, reported, results.frame(), notes={("usps", "dcn"): "not run: ..."},
        histories_df=histories, wall_time_s={"total": 812.0},
        provenance=report.collect_provenance(profile=..., seeds=..., datasets=...,
                                             wall_time_s=..., extra={}))
    report.plot_reported_vs_reproduced(comparison, "acc", figure_dir / "acc.png",
                                       title="Datasets vs ACC", labels=reported.labels())

Modules: reported (YAML schema + loader), units, results (results.csv, histories),
compare, claims, writers (csv/md/json files), atomic (staged folders, atomic files),
provenance, figures, formatting.
"""

from repro.report.atomic import (staged_directory, write_bytes_atomic, write_csv_atomic,
                                 write_json_atomic, write_text_atomic)
from repro.report.claims import claim_comparisons, evaluate_claims
from repro.report.compare import compare
from repro.report.figures import plot_histories, plot_reported_vs_reproduced, render_table_png
from repro.report.provenance import collect_provenance
from repro.report.reported import Claim, ReportedCell, ReportedPaper, ReportedSchemaError, load_reported
from repro.report.results import (ResultsError, ResultsTable, histories_frame, read_results_csv,
                                  summarize_results, validate_histories, validate_results)
from repro.report.units import UnitError, canonical_unit, convert
from repro.report.writers import (claims_markdown, comparison_display_frame, comparison_markdown,
                                  metrics_dict, write_claims, write_comparison,
                                  write_histories_csv, write_metrics_json, write_report)

__all__ = [
    "Claim", "ReportedCell", "ReportedPaper", "ReportedSchemaError", "ResultsError",
    "ResultsTable", "UnitError", "canonical_unit", "claim_comparisons", "claims_markdown",
    "collect_provenance", "compare", "comparison_display_frame", "comparison_markdown",
    "convert", "evaluate_claims", "histories_frame", "load_reported", "metrics_dict",
    "plot_histories", "plot_reported_vs_reproduced", "read_results_csv", "render_table_png",
    "staged_directory", "summarize_results", "validate_histories", "validate_results",
    "write_bytes_atomic", "write_claims", "write_comparison", "write_csv_atomic",
    "write_histories_csv", "write_json_atomic", "write_metrics_json", "write_report",
    "write_text_atomic",
]
