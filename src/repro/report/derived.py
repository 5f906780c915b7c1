"""Metrics derived from other cells after every cell ran (the YAML's ``derived``).

A derived metric is computed per (dataset, variant, seed, repeat) from cells of the same run,
once the loop is over, so it does not depend on the order in which params.yaml lists methods
and datasets. Two forms::

    derived:
      - metric: supervised_gap          # the new metric, recorded for `method`
        method: deepcluster
        of: top1
        minus: [imagenet_labels, deepcluster]     # of(first method) - of(second), same dataset
      - metric: transfer_gap_reduction
        method: deepcluster
        of: supervised_gap
        source_minus_target: {usps: mnist-full}   # on dataset `usps`: of(mnist-full) - of(usps)

The same rule turns the paper's printed cells into the derived metric for the check of a claim
on the paper's own numbers (:func:`paper_values`).
"""

from __future__ import annotations

import pandas as pd

KEYS = ["dataset", "variant", "seed", "repeat"]


def add_derived(results: pd.DataFrame | None, specs) -> pd.DataFrame | None:
    """``results`` with the derived metrics (re)computed; rows of those metrics already in
    ``results`` (an older run recorded them itself) are replaced."""
    if results is None or not specs:
        return results
    names = {s.metric for s in specs}
    out = results[~results["metric"].isin(names)]
    for spec in specs:
        rows = _derive(out, spec)
        if rows is not None and len(rows):
            out = pd.concat([out, rows], ignore_index=True)
    return out.reset_index(drop=True)


def _derive(results: pd.DataFrame, spec) -> pd.DataFrame | None:
    of = results[results["metric"] == spec.of]
    if of.empty:
        return None
    unit = of["unit"].iloc[0]
    if spec.minus:
        a, b = (of[of["method"] == m].set_index(KEYS)["value"] for m in spec.minus)
        value = (a - b).dropna()
    else:
        mine = of[of["method"] == spec.method]
        parts = []
        for target, source in spec.source_minus_target.items():
            here = mine[mine["dataset"] == target].set_index(KEYS)["value"]
            home = mine[mine["dataset"] == source].assign(dataset=target).set_index(KEYS)["value"]
            parts.append((home - here).dropna())
        value = pd.concat(parts) if parts else pd.Series(dtype=float)
    if value.empty:
        return None
    frame = value.rename("value").reset_index()
    return frame.assign(method=spec.method, metric=spec.metric, unit=unit)[results.columns]


def paper_values(reported) -> dict[tuple[str, str, str, str], float]:
    """{(dataset, method, variant, metric): value in the canonical unit} of the derived
    metrics on the paper's printed numbers."""
    from repro.report.reported import reported_in_canonical
    from repro.report.units import canonical_unit

    if not reported.derived:
        return {}
    printed = pd.DataFrame([{"dataset": c.dataset, "method": c.method, "variant": c.variant,
                             "metric": c.metric, "seed": 0, "repeat": 0,
                             "value": reported_in_canonical(c), "unit": canonical_unit(c.unit)}
                            for c in reported.cells])
    full = add_derived(printed, reported.derived)
    names = {s.metric for s in reported.derived}
    part = full[full["metric"].isin(names)]
    return {(r.dataset, r.method, r.variant, r.metric): float(r.value)
            for r in part.itertuples(index=False)}
