"""Validity gates: is a cell evidence at all? A claim resting on a gated cell is *untestable*.

Three gates, each declared in the paper's YAML (``gates``; thresholds are ours, stated there):

* **chance band** (``gates.chance``: metric -> rule): a cell whose mean lies at or below
  chance + ``chance_band`` x (1 - chance) did not learn anything its dataset rewards. The
  chance level is computed from the dataset's labels (:func:`chance_level`): ``majority``
  (ACC of the best constant assignment, top-1 of always answering the largest class),
  ``relevance_rate`` (the mAP of a random ranking: the chance that a random database item is
  relevant to a query), ``zero`` (NMI of a constant assignment).
* **no training** (``gates.loss``): a method's cell whose final logged loss (mean over seeds;
  ``histories.csv``) is not at least ``fraction`` below its *trivial* loss (the loss of an
  output that carries no information, declared per method in the YAML with its reason) did
  not train.
* **no dynamic range** (``gates.dynamic_range``): on a stand-in whose reference contrast
  (``high`` - ``low`` on ``metric``, the largest over variants, e.g. supervised - random
  probe accuracy over layers) is below ``min``, the named claims cannot tell the methods
  apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

CHANCE_RULES = ("majority", "relevance_rate", "zero")


def chance_level(rule: str, y) -> float | None:
    """The chance level of ``rule`` on labels ``y`` (1-D class ids, or a 2-D multi-hot
    matrix); None where the rule does not apply (majority of multi-label data)."""
    if rule == "zero":
        return 0.0
    y = np.asarray(y)
    if rule == "majority":
        if y.ndim != 1:
            return None
        return float(np.bincount(y.astype(np.int64)).max() / y.size)
    if rule == "relevance_rate":
        if y.ndim == 1:
            p = np.bincount(y.astype(np.int64)) / y.size
            return float(np.sum(p * p))
        rng = np.random.default_rng(0)
        rows = y[rng.choice(len(y), size=min(len(y), 4000), replace=False)].astype(np.float32)
        shared = (rows @ rows.T) > 0
        np.fill_diagonal(shared, False)
        return float(shared.sum() / (len(rows) * (len(rows) - 1)))
    raise ValueError(f"unknown chance rule {rule!r} (known: {', '.join(CHANCE_RULES)})")


def chance_levels(spec, y) -> dict[str, float]:
    """{metric: chance level} of one dataset (labels ``y``) for the paper's gate spec's
    ``chance`` rules; {} where the paper declares none or the data have no labels."""
    if spec is None or not spec.chance or y is None:
        return {}
    levels = {metric: chance_level(rule, y) for metric, rule in spec.chance.items()}
    return {metric: level for metric, level in levels.items() if level is not None}


@dataclass
class Gates:
    """The gates of one report: which cells did not train, which claims lack dynamic range."""

    cell_gates: dict[tuple[str, str, str], str] = field(default_factory=dict)
    quality_metrics: frozenset = frozenset()   # the metrics a "did not train" gate concerns
    claim_gates: dict[tuple[str, str], str] = field(default_factory=dict)
    table: list[dict] = field(default_factory=list)   # every check made, for the report

    def cell(self, dataset: str, method: str, variant: str, metric: str) -> str | None:
        """Why a comparison on this cell's quality metric (the chance-gated ones: a cell's
        bytes or timings do not depend on whether it trained) is no evidence, or None."""
        if metric not in self.quality_metrics:
            return None
        return self.cell_gates.get((dataset, method, variant))

    def claim(self, claim_id: str, dataset: str) -> str | None:
        return self.claim_gates.get((claim_id, dataset))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.table, columns=["gate", "dataset", "cell", "value", "threshold",
                                                 "passes"])


def evaluate_gates(spec, results: pd.DataFrame | None, histories: pd.DataFrame | None,
                   chance: Mapping[str, Mapping[str, float]], label=lambda k: k) -> Gates:
    """Apply the YAML's ``gates`` (``spec``: :class:`repro.report.reported.GateSpec` or None)
    to a report's results and histories; ``chance``: dataset -> metric -> chance level."""
    gates = Gates(quality_metrics=frozenset(spec.chance) if spec is not None else frozenset())
    if spec is None or results is None or len(results) == 0:
        return gates
    means = results.groupby(["dataset", "method", "variant", "metric"])["value"].mean()
    for (dataset, method, variant, metric), mean in means.items():
        level = chance.get(dataset, {}).get(metric)
        if level is None or metric not in spec.chance:
            continue
        threshold = level + spec.chance_band * (1 - level)
        passes = bool(mean > threshold)
        gates.table.append({"gate": "chance band", "dataset": dataset,
                            "cell": f"{method} {variant} {metric}".replace("  ", " "),
                            "value": mean, "threshold": threshold, "passes": passes})
        if not passes:
            gates.cell_gates.setdefault((dataset, method, variant), (
                f"did not train: {label(method)}{f' ({variant})' if variant else ''} "
                f"{label(metric)} {mean:.3f} is within the chance band of {label(dataset)} "
                f"(chance {level:.3f}, band up to {threshold:.3f})"))
    if spec.loss and histories is not None and "loss" in histories:
        trivial, fraction = spec.loss["trivial"], spec.loss["fraction"]
        h = histories[histories["method"].isin(list(trivial))].dropna(subset=["loss"])
        h = h.sort_values(["iteration", "epoch"])
        for (dataset, method, variant), part in h.groupby(["dataset", "method", "variant"]):
            final = float(part.groupby("seed")["loss"].last().mean())
            threshold = trivial[method] * (1 - fraction)
            passes = final < threshold
            gates.table.append({"gate": "loss below trivial", "dataset": dataset,
                                "cell": f"{method} {variant} final loss".replace("  ", " "),
                                "value": final, "threshold": threshold, "passes": passes})
            if not passes:
                gates.cell_gates.setdefault((dataset, method, str(variant)), (
                    f"did not train: {label(method)}{f' ({variant})' if variant else ''} "
                    f"final loss {final:.3f} is not {100 * fraction:g}% below its trivial "
                    f"loss {trivial[method]:g}"))
    for rule in spec.dynamic_range:
        if rule["metric"] not in means.index.get_level_values("metric"):
            continue
        # the metric's means: rows (dataset, variant), one column per method
        wide = means.xs(rule["metric"], level="metric").unstack("method")
        for dataset in rule["datasets"]:
            if dataset not in wide.index.get_level_values("dataset") or \
                    not {rule["high"], rule["low"]} <= set(wide.columns):
                continue
            part = wide.loc[dataset]
            contrast = (part[rule["high"]] - part[rule["low"]]).dropna()
            if contrast.empty:
                continue
            best = float(contrast.max())
            passes = best >= rule["min"]
            gates.table.append({"gate": "dynamic range", "dataset": dataset,
                                "cell": f"{rule['high']} - {rule['low']} {rule['metric']} (best)",
                                "value": best, "threshold": rule["min"], "passes": passes})
            if not passes:
                for claim_id in rule["claims"]:
                    gates.claim_gates[(claim_id, dataset)] = (
                        f"no dynamic range: on {label(dataset)}, {label(rule['high'])} - "
                        f"{label(rule['low'])} {label(rule['metric'])} is at most "
                        f"{100 * best:.1f} points (needs {100 * rule['min']:g})")
    return gates
