"""One module per paper (its experiment) plus ``<paper>.yaml``: the paper's reported numbers
and claims as data (schema: :mod:`repro.report.reported`; load with
:func:`repro.report.load_reported`)."""
