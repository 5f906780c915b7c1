"""Reproduced-vs-reported tables, claim verdicts, provenance and figures.

Modules: reported (YAML schema + loader), units, results (results.csv, histories),
compare, claims, writers (csv/md/json files, :func:`~repro.report.writers.write_report`),
atomic (staged folders, atomic files), provenance, figures, formatting.
"""
