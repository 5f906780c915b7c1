"""A paper's reported numbers and claims, as data: ``src/repro/papers/<paper>.yaml``.

Reported numbers are never typed into code; they live in one YAML file per paper, typed
exactly as printed. :func:`load_reported` parses and validates it; any problem raises
:class:`ReportedSchemaError` naming the file and the dotted key (``tables.table1.results[3].unit``).

Schema (every key below is allowed; any other key is an error)::

    paper: gapdcec                  # required; must equal the file name's stem
    title: "..."                    # required
    source: gapdcec.txt             # required: the paper text in shared/papers/
    tolerance:                      # optional; metric -> number >= 0 or null
      acc: 0.03                     #   ABSOLUTE, in the metric's canonical (reproduced) unit,
      nmi: 0.03                     #   i.e. a fraction for "%" metrics, seconds for "s".
      seconds: null                 #   null or absent -> cells of that metric are "not comparable"
    display:                        # optional labels for tables and figures; key -> label
      methods: {kmeans: K-means}    #   keys must be methods/datasets/metrics used in the tables;
      datasets: {mnist-full: MNIST-full}   # anything without a label is shown by its key
      metrics: {acc: ACC}
    tables:                         # required, at least one table
      table1:
        caption: "..."              # required
        results:                    # required, long format, one cell per entry
          - {dataset: mnist-full, method: kmeans, metric: acc, value: 54.24, unit: "%"}
          - {dataset: cifar-10, method: dqn, variant: 32, metric: map, value: 0.558, unit: fraction}
                                    # variant (optional): the paper's extra dimension of the
                                    #   cell -- code length, conv layer, k -- kept as a string
    claim_only_metrics:             # optional; metric -> unit: metrics the paper makes a claim
      acc: "%"                      #   about without printing numbers (PQDEC: "without affecting
                                    #   the cluster accuracy"); claims may name them, and their
                                    #   verdict on the paper's own numbers is inconclusive
    stand_ins:                      # optional; stand-in dataset -> the paper's dataset it
      mnist-full: cifar-10          #   stands in for (same protocol, data we have). Its cells
                                    #   are shown beside the paper dataset's, "not comparable";
                                    #   claims may name it, their paper verdict reads the
                                    #   paper dataset's numbers
    claim_only_methods: [float_features]   # optional: references measured beside a method
                                    #   (not in the tables) that claims may name
    runs: 5                         # optional: how many runs the paper averages (default 5,
                                    #   where it names none); a verdict is decisive only under
                                    #   the paper profile with at least this many seeds
    alpha: 0.05                     # optional: each claim's family-wise error level (default)
    derived:                        # optional: metrics computed from other cells after the
      - metric: supervised_gap      #   run (see repro.report.derived): `minus: [a, b]` or
        method: deepcluster         #   `source_minus_target: {target dataset: source dataset}`
        of: top1
        minus: [imagenet_labels, deepcluster]
    gates:                          # optional validity gates (see repro.report.gates)
      chance: {map: relevance_rate} #   metric -> majority | relevance_rate | zero
      chance_band: 0.1              #   (default 0.1, ours)
      loss: {trivial: {dqn2plus: 1.0}, fraction: 0.05}   # final loss not 5% below trivial
      dynamic_range:                #   a stand-in whose reference contrast is below `min`
        - {datasets: [mnist-full], metric: top1, high: imagenet_labels, low: random,
           min: 0.05, claims: [beats_random]}
    departures:                     # optional list: every way a run departs from what the
      - setting: backbone           #   paper's text states (budget reductions of a profile are
        paper: "AlexNet (Sec. 4)"   #   computed by the runner and not listed here)
        ours: "VGG16 (keras.applications, ImageNet weights)"
        reason: "..."               # required: why
        source: "ours"              # required: where our setting comes from: "ours", "authors'
                                    #   code: <repo>/<path>", "reference code: <repo>/<path>",
                                    #   "paper: Sec. 4.1" (stated elsewhere in the paper), ...
        profiles: [paper, quick]    # optional: the profiles it applies to (default: every one)
    claims:                         # optional list
      - id: gapdcec_beats_dcec      # required, unique
        statement: "..."            # required: the claim in words
        left: gapdcec               # required: a method key, or a list of them
        op: ">"                     # required: ">", "<" or "within"
        right: dcec                 # required: a method key, or a list of them
                                    #   a side may also be "dqn@24" (that method at variant
                                    #   "24", whatever for_each.variant says) or a number (a
                                    #   constant in the metric's canonical unit: 10.0)
        pairs: [[dqn@24, dqn@12]]   # instead of left/right: explicit (left, right) pairs
        margin: 0.03                # optional for ">" / "<": left must beat right by this
                                    #   much (canonical unit; the paper's stated gain, or
                                    #   ours); needs tolerance_source
        for_each:                   # required: the cells the claim is checked on
          dataset: [mnist-full, mnist-test, usps]   # a key or a list of keys
          metric: [acc, nmi]
          variant: ["12", "24"]     #   optional (default: the cells' own variant "")
        basis: text                 # required: "text" = the paper states it in words (quote it
                                    #   in the statement); "table" = an ordering we read off
                                    #   its table, which the paper's text does not state
        tolerance: null             # required number for op "within" (canonical unit), else null/absent
        tolerance_source: ours      # required with a tolerance: "paper" (printed) or "ours"

Semantics. A cell is (dataset, method, variant, metric); it appears at most once in the paper.
``value`` is a number in ``unit`` (one of :data:`repro.report.units.KNOWN_UNITS`); all cells
of one metric share a unit. A claim is checked on every (l, r, dataset, metric) with l in
``left``, r in ``right`` (l != r): ``>`` means l's value exceeds r's, ``<`` the opposite,
``within`` means |l - r| <= the claim's tolerance; with ``margin``, ``>`` means l > r + margin. Every method, dataset and metric a claim,
a tolerance or a display label names must occur in the tables (typos are errors).

Paper-specific dimensions beyond (dataset, method, metric) -- code length, conv layer -- are
the cell's ``variant``; a claim names the variants it is checked on in ``for_each.variant``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import os
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import yaml

from repro.report.units import UnitError, canonical_unit, check_unit, convert

CLAIM_OPS = (">", "<", "within")
CLAIM_BASES = ("text", "table")
TOLERANCE_SOURCES = ("paper", "ours")
_TOP_KEYS = {"paper": True, "title": True, "source": True, "tolerance": False,
             "display": False, "tables": True, "claims": False, "claim_only_metrics": False,
             "stand_ins": False, "claim_only_methods": False,
             "departures": False, "runs": False, "alpha": False, "derived": False,
             "gates": False}
_DERIVED_KEYS = {"metric": True, "method": True, "of": True, "minus": False,
                 "source_minus_target": False}
_GATE_KEYS = {"chance": False, "chance_band": False, "loss": False, "dynamic_range": False}
_RANGE_KEYS = {"datasets": True, "metric": True, "high": True, "low": True, "min": True,
               "claims": True}
_DEPARTURE_KEYS = {"setting": True, "paper": True, "ours": True, "reason": True, "source": True,
                   "profiles": False}
PROFILES = ("smoke", "quick", "paper")
_TABLE_KEYS = {"caption": True, "results": True}
_CELL_KEYS = {"dataset": True, "method": True, "metric": True, "value": True, "unit": True,
              "variant": False}
_CLAIM_KEYS = {"id": True, "statement": True, "left": False, "op": True, "right": False,
               "pairs": False, "margin": False, "for_each": True, "basis": True,
               "tolerance": False, "tolerance_source": False}
_FOR_EACH_KEYS = {"dataset": True, "metric": True, "variant": False}
_DISPLAY_KEYS = {"methods": False, "datasets": False, "metrics": False}


class ReportedSchemaError(ValueError):
    """A <paper>.yaml problem: unknown or missing key, wrong type, bad op, unknown name."""


@dataclasses.dataclass(frozen=True)
class ReportedCell:
    """One printed number: ``value`` in ``unit`` for (dataset, method, variant, metric)."""

    table: str
    dataset: str
    method: str
    metric: str
    value: float
    unit: str
    variant: str = ""


@dataclasses.dataclass(frozen=True)
class Derived:
    """A metric computed from other cells after the run (:mod:`repro.report.derived`)."""

    metric: str
    method: str
    of: str
    minus: tuple[str, str] | None = None
    source_minus_target: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class GateSpec:
    """The paper's validity gates (:mod:`repro.report.gates`)."""

    chance: Mapping[str, str] = dataclasses.field(default_factory=dict)
    chance_band: float = 0.1
    loss: Mapping[str, Any] | None = None
    dynamic_range: tuple[Mapping[str, Any], ...] = ()


@dataclasses.dataclass(frozen=True)
class Departure:
    """One way a run departs from what the paper states, why, and where our setting comes from."""

    setting: str
    paper: str
    ours: str
    reason: str
    source: str
    profiles: tuple[str, ...] = ("smoke", "quick", "paper")


@dataclasses.dataclass(frozen=True)
class Claim:
    """An ordering the paper claims; see the module docstring for ``op`` semantics."""

    id: str
    statement: str
    left: tuple[str, ...]
    op: str
    right: tuple[str, ...]
    datasets: tuple[str, ...]
    metrics: tuple[str, ...]
    tolerance: float | None = None
    variants: tuple[str, ...] = ("",)
    basis: str = "text"                 # "text": stated by the paper; "table": read off a table
    tolerance_source: str | None = None  # "paper" | "ours" for a claim with a tolerance / margin
    pairs: tuple[tuple[str, str], ...] = ()   # (left, right) sides; default: left x right
    margin: float | None = None         # ">" / "<": by more than this (canonical unit)

    def side_pairs(self) -> tuple[tuple[str, str], ...]:
        """Every (left, right) side compared: ``pairs``, else left x right without l == r."""
        if self.pairs:
            return self.pairs
        return tuple((l, r) for l in self.left for r in self.right if l != r)


def parse_side(side: str) -> tuple[str | None, str | None, float | None]:
    """A claim side -> (method, variant or None, constant or None): "dqn" -> ("dqn", None,
    None); "dqn@24" -> ("dqn", "24", None); "10.0" -> (None, None, 10.0)."""
    try:
        return None, None, float(side)
    except ValueError:
        pass
    method, _, variant = side.partition("@")
    return method, (variant if _ else None), None


@dataclasses.dataclass(frozen=True)
class ReportedPaper:
    """The validated content of one <paper>.yaml."""

    paper: str
    title: str
    source: str
    path: Path
    tolerance: Mapping[str, float | None]
    captions: Mapping[str, str]
    cells: tuple[ReportedCell, ...]
    claims: tuple[Claim, ...]
    display: Mapping[str, Mapping[str, str]]
    claim_only_metrics: Mapping[str, str] = dataclasses.field(default_factory=dict)
    stand_ins: Mapping[str, str] = dataclasses.field(default_factory=dict)
    claim_only_methods: tuple[str, ...] = ()
    departures: tuple["Departure", ...] = ()
    runs: int = 5
    alpha: float = 0.05
    derived: tuple["Derived", ...] = ()
    gates: "GateSpec | None" = None

    def departures_for(self, profile: str) -> tuple["Departure", ...]:
        """The departures from the paper's text that apply to ``profile``."""
        return tuple(d for d in self.departures if profile in d.profiles)

    def paper_dataset(self, dataset: str) -> str:
        """The paper's dataset ``dataset`` stands in for (itself if it is not a stand-in)."""
        return self.stand_ins.get(dataset, dataset)

    def cell(self, dataset: str, method: str, metric: str, variant: str = ""
             ) -> ReportedCell | None:
        """The reported cell, or None if the paper does not report it."""
        return self._index.get((dataset, method, str(variant), metric))

    @functools.cached_property
    def _index(self) -> dict[tuple[str, str, str, str], ReportedCell]:
        return {(c.dataset, c.method, c.variant, c.metric): c for c in self.cells}

    def frame(self) -> pd.DataFrame:
        """All cells: columns table, dataset, method, variant, metric, value, unit (paper order)."""
        return pd.DataFrame([dataclasses.asdict(c) for c in self.cells],
                            columns=["table", "dataset", "method", "variant", "metric", "value",
                                     "unit"])

    def keys(self, kind: str) -> list[str]:
        """Datasets, methods or metrics (``kind`` = "dataset" | "method" | "metric"), paper order."""
        return list(dict.fromkeys(getattr(c, kind) for c in self.cells))

    def metric_unit(self, metric: str) -> str | None:
        """The unit the paper prints ``metric`` in (or declares it in, for a claim-only
        metric), or None if the paper never mentions it."""
        printed = next((c.unit for c in self.cells if c.metric == metric), None)
        return printed or self.claim_only_metrics.get(metric)

    def tolerance_for(self, metric: str) -> float | None:
        """Absolute tolerance of ``metric`` in its canonical unit; None = not comparable."""
        return self.tolerance.get(metric)

    def labels(self) -> dict[str, str]:
        """Display labels of methods, datasets and metrics merged (key -> label)."""
        merged: dict[str, str] = {}
        for kind in ("datasets", "methods", "metrics"):
            merged.update(self.display.get(kind, {}))
        return merged

    def label(self, key: str) -> str:
        """The display label of a method, dataset or metric key (the key itself if none)."""
        return self.labels().get(key, key)


def paper_yaml_path(paper: str) -> Path:
    """Path of ``src/repro/papers/<paper>.yaml``; error naming it if there is no such file."""
    path = Path(str(importlib.resources.files("repro.papers").joinpath(f"{paper}.yaml")))
    if not path.is_file():
        raise FileNotFoundError(f"no reported-numbers file for paper {paper!r}: {path}")
    return path


def load_reported(paper: str | os.PathLike) -> ReportedPaper:
    """Parse and validate a paper's YAML: a paper key ("gapdcec") or a path to a .yaml file."""
    path = Path(paper) if isinstance(paper, os.PathLike) or str(paper).endswith(".yaml") \
        else paper_yaml_path(str(paper))
    with open(path, encoding="utf-8") as fh:
        try:
            raw = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise ReportedSchemaError(f"{path}: not valid YAML: {exc}") from exc
    return _Validator(path).paper(raw)


class _Validator:
    """Builds a ReportedPaper from parsed YAML, raising errors that name file and key."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, where: str, problem: str):
        raise ReportedSchemaError(f"{self.path}: {where}: {problem}")

    def mapping(self, value: Any, where: str, keys: Mapping[str, bool]) -> dict:
        if not isinstance(value, dict):
            self.fail(where or "top level", f"expected a mapping, got {type(value).__name__}")
        for key in value:
            if key not in keys:
                self.fail(_join(where, key), f"unknown key (allowed: {', '.join(keys)})")
        for key, required in keys.items():
            if required and key not in value:
                self.fail(_join(where, key), "missing required key")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"expected a non-empty string, got {value!r}")
        return value

    def number(self, value: Any, where: str, *, nullable: bool = False) -> float | None:
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(where, f"expected a number, got {value!r}")
        return float(value)

    def entries(self, raw: Any, where: str, keys: Mapping[str, bool]):
        """(where, mapping) of every entry of an optional list of mappings (None: none)."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.fail(where, f"expected a list, got {type(raw).__name__}")
        return [(f"{where}[{i}]", self.mapping(item, f"{where}[{i}]", keys))
                for i, item in enumerate(raw)]

    def names(self, value: Any, where: str) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        if not items:
            self.fail(where, "expected a key or a non-empty list of keys")
        return tuple(self.text(v, f"{where}[{i}]") for i, v in enumerate(items))

    def paper(self, raw: Any) -> ReportedPaper:
        top = self.mapping(raw, "", _TOP_KEYS)
        name = self.text(top["paper"], "paper")
        if name != self.path.stem:
            self.fail("paper", f"{name!r} does not match the file name {self.path.name!r}")
        tables = top["tables"]
        if not isinstance(tables, dict) or not tables:
            self.fail("tables", "expected a mapping with at least one table")
        cells, captions = [], {}
        for table_key, table in tables.items():
            where = f"tables.{table_key}"
            table = self.mapping(table, where, _TABLE_KEYS)
            captions[table_key] = self.text(table["caption"], f"{where}.caption")
            if not isinstance(table["results"], list) or not table["results"]:
                self.fail(f"{where}.results", "expected a non-empty list of cells")
            cells += [self.cell(c, f"{where}.results[{i}]", table_key)
                      for i, c in enumerate(table["results"])]
        self.check_cells(cells)
        known = {kind: {getattr(c, kind) for c in cells}
                 for kind in ("dataset", "method", "metric", "variant")}
        claim_only = self.claim_only_metrics(top.get("claim_only_metrics"), known["metric"])
        known["metric"] |= set(claim_only)
        stand_ins = self.stand_ins(top.get("stand_ins"), known["dataset"])
        known["dataset"] |= set(stand_ins)
        extra_methods = self.names(top.get("claim_only_methods") or [], "claim_only_methods") \
            if top.get("claim_only_methods") else ()
        known["method"] |= set(extra_methods)
        claims = self.claims(top.get("claims"), known)
        return ReportedPaper(
            paper=name, title=self.text(top["title"], "title"),
            source=self.text(top["source"], "source"), path=self.path,
            tolerance=self.tolerance(top.get("tolerance"), known["metric"]),
            captions=captions, cells=tuple(cells),
            claims=claims,
            display=self.display(top.get("display"), known), claim_only_metrics=claim_only,
            stand_ins=stand_ins, claim_only_methods=extra_methods,
            departures=self.departures(top.get("departures")),
            runs=self.runs(top.get("runs", 5)),
            alpha=self.alpha(top.get("alpha", 0.05)),
            derived=self.derived(top.get("derived"), known),
            gates=self.gates(top.get("gates"), known, {c.id for c in claims}))

    def runs(self, raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            self.fail("runs", f"expected a whole number >= 1, got {raw!r}")
        return raw

    def alpha(self, raw: Any) -> float:
        value = self.number(raw, "alpha")
        if not 0 < value < 0.5:
            self.fail("alpha", f"expected a level in (0, 0.5), got {value}")
        return value

    def derived(self, raw: Any, known: dict[str, set[str]]) -> tuple[Derived, ...]:
        out = []
        for where, item in self.entries(raw, "derived", _DERIVED_KEYS):
            if ("minus" in item) == ("source_minus_target" in item):
                self.fail(where, "give exactly one of minus, source_minus_target")
            metric, method, of = (self.text(item[k], f"{where}.{k}") for k in ("metric", "method", "of"))
            if metric not in known["metric"]:
                self.fail(f"{where}.metric", f"unknown metric {metric!r}: declare it in the tables "
                          "or claim_only_metrics")
            minus = None
            if "minus" in item:
                minus = self.names(item["minus"], f"{where}.minus")
                if len(minus) != 2:
                    self.fail(f"{where}.minus", "expected two methods [a, b] (a - b)")
            mapping = {}
            if "source_minus_target" in item:
                mapping = self.mapping(item["source_minus_target"], f"{where}.source_minus_target",
                                       {d: False for d in sorted(known["dataset"])})
            out.append(Derived(metric, method, of, minus, dict(mapping)))
        return tuple(out)

    def gates(self, raw: Any, known: dict[str, set[str]], claim_ids: set[str]) -> GateSpec | None:
        from repro.report.gates import CHANCE_RULES

        if raw is None:
            return None
        raw = self.mapping(raw, "gates", _GATE_KEYS)
        chance = self.mapping(raw.get("chance") or {}, "gates.chance",
                              {m: False for m in sorted(known["metric"])})
        for metric, rule in chance.items():
            if rule not in CHANCE_RULES:
                self.fail(f"gates.chance.{metric}", f"unknown rule {rule!r} (known: "
                          f"{', '.join(CHANCE_RULES)})")
        band = self.number(raw.get("chance_band", 0.1), "gates.chance_band")
        loss = raw.get("loss")
        if loss is not None:
            loss = self.mapping(loss, "gates.loss", {"trivial": True, "fraction": True})
            trivial = self.mapping(loss["trivial"], "gates.loss.trivial",
                                   {m: False for m in sorted(known["method"])})
            loss = {"trivial": {m: self.number(v, f"gates.loss.trivial.{m}")
                                for m, v in trivial.items()},
                    "fraction": self.number(loss["fraction"], "gates.loss.fraction")}
        ranges = []
        for where, rule in self.entries(raw.get("dynamic_range"), "gates.dynamic_range", _RANGE_KEYS):
            parsed = {"datasets": self.names(rule["datasets"], f"{where}.datasets"),
                      "metric": (self.text(rule["metric"], f"{where}.metric"),),
                      "high": (self.text(rule["high"], f"{where}.high"),),
                      "low": (self.text(rule["low"], f"{where}.low"),),
                      "claims": self.names(rule["claims"], f"{where}.claims")}
            for key, kind in (("datasets", "dataset"), ("metric", "metric"), ("high", "method"),
                              ("low", "method"), ("claims", None)):
                allowed = claim_ids if kind is None else known[kind]
                unknown = sorted(set(parsed[key]) - set(allowed))
                if unknown:
                    self.fail(f"{where}.{key}", f"unknown {kind or 'claim id'}(s) {unknown}")
            ranges.append({**parsed, "metric": parsed["metric"][0], "high": parsed["high"][0],
                           "low": parsed["low"][0], "min": self.number(rule["min"], f"{where}.min")})
        return GateSpec(dict(chance), band, loss, tuple(ranges))

    def departures(self, raw: Any) -> tuple[Departure, ...]:
        out = []
        for where, item in self.entries(raw, "departures", _DEPARTURE_KEYS):
            profiles = self.names(item.get("profiles", list(PROFILES)), f"{where}.profiles")
            unknown = sorted(set(profiles) - set(PROFILES))
            if unknown:
                self.fail(f"{where}.profiles", f"unknown profile(s) {unknown}; known: "
                          f"{', '.join(PROFILES)}")
            out.append(Departure(*(self.text(str(item[k]) if isinstance(item[k], (int, float))
                                             else item[k], f"{where}.{k}")
                                   for k in ("setting", "paper", "ours", "reason", "source")),
                                 profiles=profiles))
        return tuple(out)

    def stand_ins(self, raw: Any, datasets: set[str]) -> dict[str, str]:
        raw = raw or {}
        if not isinstance(raw, dict):
            self.fail("stand_ins", f"expected a mapping stand-in -> paper dataset, got "
                      f"{type(raw).__name__}")
        out = {}
        for stand_in, paper in raw.items():
            where = f"stand_ins.{stand_in}"
            paper = self.text(paper, where)
            if paper not in datasets:
                self.fail(where, f"unknown paper dataset {paper!r}; the tables have "
                          f"{', '.join(sorted(datasets))}")
            if stand_in in datasets:
                self.fail(where, f"{stand_in!r} is a dataset of the tables, not a stand-in")
            out[str(stand_in)] = paper
        return out

    def claim_only_metrics(self, raw: Any, printed: set[str]) -> dict[str, str]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.fail("claim_only_metrics", f"expected a mapping metric -> unit, got {type(raw).__name__}")
        out = {}
        for metric, unit in raw.items():
            where = f"claim_only_metrics.{metric}"
            if metric in printed:
                self.fail(where, f"metric {metric!r} is printed in the tables; remove it here")
            try:
                out[str(metric)] = check_unit(self.text(unit, where))
            except UnitError as exc:
                self.fail(where, str(exc))
        return out

    def cell(self, raw: Any, where: str, table: str) -> ReportedCell:
        raw = self.mapping(raw, where, _CELL_KEYS)
        try:
            unit = check_unit(self.text(raw["unit"], f"{where}.unit"))
        except UnitError as exc:
            self.fail(f"{where}.unit", str(exc))
        variant = raw.get("variant", "")
        if isinstance(variant, bool) or not isinstance(variant, (str, int)):
            self.fail(f"{where}.variant", f"expected a string or an integer, got {variant!r}")
        return ReportedCell(table, *(self.text(raw[k], f"{where}.{k}")
                                     for k in ("dataset", "method", "metric")),
                            value=self.number(raw["value"], f"{where}.value"), unit=unit,
                            variant=str(variant))

    def check_cells(self, cells: list[ReportedCell]) -> None:
        seen: dict[tuple, str] = {}
        units: dict[str, str] = {}
        for c in cells:
            key = (c.dataset, c.method, c.variant, c.metric)
            if key in seen:
                self.fail(f"tables.{c.table}", f"cell {key} already given in tables.{seen[key]}")
            seen[key] = c.table
            if units.setdefault(c.metric, c.unit) != c.unit:
                self.fail(f"tables.{c.table}", f"metric {c.metric!r} printed in both "
                          f"{units[c.metric]!r} and {c.unit!r}")

    def tolerance(self, raw: Any, metrics: set[str]) -> dict[str, float | None]:
        raw = self.mapping(raw or {}, "tolerance", {m: False for m in sorted(metrics)})
        out = {k: self.number(v, f"tolerance.{k}", nullable=True) for k, v in raw.items()}
        for key, value in out.items():
            if value is not None and value < 0:
                self.fail(f"tolerance.{key}", f"must be >= 0, got {value}")
        return out

    def display(self, raw: Any, known: dict[str, set[str]]) -> dict[str, dict[str, str]]:
        raw = self.mapping(raw or {}, "display", _DISPLAY_KEYS)
        out = {}
        for kind, labels in raw.items():
            allowed = {k: False for k in sorted(known[kind.rstrip("s")])}
            labels = self.mapping(labels or {}, f"display.{kind}", allowed)
            out[kind] = {k: self.text(v, f"display.{kind}.{k}") for k, v in labels.items()}
        return out

    def claims(self, raw: Any, known: dict[str, set[str]]) -> tuple[Claim, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.fail("claims", f"expected a list, got {type(raw).__name__}")
        claims = [self.claim(c, f"claims[{i}]", known) for i, c in enumerate(raw)]
        ids = [c.id for c in claims]
        for i, claim_id in enumerate(ids):
            if claim_id in ids[:i]:
                self.fail(f"claims[{i}].id", f"duplicate claim id {claim_id!r}")
        return tuple(claims)

    def claim(self, raw: Any, where: str, known: dict[str, set[str]]) -> Claim:
        raw = self.mapping(raw, where, _CLAIM_KEYS)
        op = raw["op"]
        if op not in CLAIM_OPS:
            self.fail(f"{where}.op", f"unknown op {op!r} (allowed: {', '.join(CLAIM_OPS)})")
        tolerance = self.number(raw.get("tolerance"), f"{where}.tolerance", nullable=True)
        if op == "within" and (tolerance is None or tolerance < 0):
            self.fail(f"{where}.tolerance", "op 'within' needs a tolerance >= 0")
        basis = raw["basis"]
        if basis not in CLAIM_BASES:
            self.fail(f"{where}.basis", f"must be one of {', '.join(CLAIM_BASES)}, got {basis!r}")
        source = raw.get("tolerance_source")
        if source not in (None, *TOLERANCE_SOURCES):
            self.fail(f"{where}.tolerance_source", f"must be one of "
                      f"{', '.join(TOLERANCE_SOURCES)}, got {source!r}")
        for_each = self.mapping(raw["for_each"], f"{where}.for_each", _FOR_EACH_KEYS)
        variants = tuple(str(v) for v in (for_each.get("variant", [""]) if isinstance(
            for_each.get("variant", [""]), list) else [for_each["variant"]]))
        unknown_variants = set(variants) - known.get("variant", set()) - {""}
        if unknown_variants:
            self.fail(f"{where}.for_each.variant", f"unknown variant(s) {sorted(unknown_variants)}")
        margin = self.number(raw.get("margin"), f"{where}.margin", nullable=True)
        if margin is not None and (op == "within" or margin < 0):
            self.fail(f"{where}.margin", "a margin >= 0 is for op '>' or '<'")
        if (tolerance is None and margin is None) != (source is None):
            self.fail(f"{where}.tolerance_source", "a claim with a tolerance or margin names its "
                      f"source ({' or '.join(TOLERANCE_SOURCES)}); one without has none")
        if ("pairs" in raw) == ("left" in raw or "right" in raw) or \
                ("pairs" not in raw and not ("left" in raw and "right" in raw)):
            self.fail(where, "give either left and right, or pairs")
        sides: dict[str, tuple[str, ...]] = {}
        if "pairs" in raw:
            pairs = raw["pairs"]
            if not isinstance(pairs, list) or not pairs or not all(
                    isinstance(p, list) and len(p) == 2 for p in pairs):
                self.fail(f"{where}.pairs", "expected a non-empty list of [left, right] pairs")
            pairs = tuple((self.side(p[0], f"{where}.pairs[{i}]", known),
                           self.side(p[1], f"{where}.pairs[{i}]", known))
                          for i, p in enumerate(pairs))
            sides["left"] = tuple(dict.fromkeys(p[0] for p in pairs))
            sides["right"] = tuple(dict.fromkeys(p[1] for p in pairs))
        else:
            pairs = ()
            for key in ("left", "right"):
                items = raw[key] if isinstance(raw[key], list) else [raw[key]]
                if not items:
                    self.fail(f"{where}.{key}", "expected a key or a non-empty list of keys")
                sides[key] = tuple(self.side(v, f"{where}.{key}[{i}]", known)
                                   for i, v in enumerate(items))
        parsed = {}
        for field, (kind, value) in {"for_each.dataset": ("dataset", for_each["dataset"]),
                                     "for_each.metric": ("metric", for_each["metric"])}.items():
            parsed[field] = self.names(value, f"{where}.{field}")
            for name in parsed[field]:
                if name not in known[kind]:
                    self.fail(f"{where}.{field}", f"unknown {kind} {name!r}; the tables have "
                              f"{', '.join(sorted(known[kind]))}")
        return Claim(id=self.text(raw["id"], f"{where}.id"),
                     statement=self.text(raw["statement"], f"{where}.statement"),
                     left=sides["left"], op=op, right=sides["right"],
                     datasets=parsed["for_each.dataset"], metrics=parsed["for_each.metric"],
                     tolerance=tolerance, variants=variants, basis=basis,
                     tolerance_source=source, pairs=pairs, margin=margin)

    def side(self, value: Any, where: str, known: dict[str, set[str]]) -> str:
        """One claim side as a string: a method key, "method@variant" or a number."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return repr(float(value))
        text = self.text(value, where)
        method, variant, constant = parse_side(text)
        if constant is not None:
            return text
        if method not in known["method"]:
            self.fail(where, f"unknown method {method!r}; the tables have "
                      f"{', '.join(sorted(known['method']))}")
        if variant is not None and variant not in known.get("variant", set()):
            self.fail(where, f"unknown variant {variant!r} in {text!r}")
        return text


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def reported_in_canonical(cell: ReportedCell) -> float:
    """The reported value converted to its canonical unit (54.24 "%" -> 0.5424)."""
    return convert(cell.value, cell.unit, canonical_unit(cell.unit))
