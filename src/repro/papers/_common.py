"""What every paper's stage config shares: per-dataset overrides and the profile's reductions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Mapping

from repro.config import build, deep_merge, to_dict


@dataclass
class StageConfig:
    """The base of every paper's ``Config`` dataclass: the fields all stages share, their
    validation, and per-dataset overrides. A paper's Config lists only what it adds and names
    its paper and its known datasets and methods in the class line::

        @dataclass
        class Config(StageConfig, paper="pqdec", datasets=DATASETS, methods=METHODS):
            n_init: int = 20

    and puts its own checks in ``check()``. Every value that runs comes from params.yaml
    (the paper's ``base`` sets every key); the defaults here only serve tests. Empty
    ``datasets`` / ``methods``: all the paper knows."""

    datasets: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0,)
    methods: tuple[str, ...] = ()
    verbose: int = 2
    # dataset -> overrides of the other fields (e.g. fewer pretraining epochs on MNIST-full)
    per_dataset: dict[str, dict] = field(default_factory=dict)

    PAPER: ClassVar[str] = ""
    KNOWN_DATASETS: ClassVar[tuple[str, ...]] = ()
    KNOWN_METHODS: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, *, paper: str = "", datasets: tuple[str, ...] = (),
                          methods: tuple[str, ...] = (), **kwargs):
        super().__init_subclass__(**kwargs)
        if paper:
            cls.PAPER, cls.KNOWN_DATASETS, cls.KNOWN_METHODS = paper, tuple(datasets), tuple(methods)

    def __post_init__(self):
        self.datasets = tuple(self.datasets) or self.KNOWN_DATASETS
        self.methods = tuple(self.methods) or self.KNOWN_METHODS
        self.validate()
        self.check()

    def check(self) -> None:
        """A paper's own checks of its settings (ValueError on a bad one)."""

    def validate(self) -> None:
        """Unknown dataset / method names and bad per-dataset overrides are errors."""
        for name, values, known in (("datasets", self.datasets, self.KNOWN_DATASETS),
                                    ("methods", self.methods, self.KNOWN_METHODS),
                                    ("per_dataset", tuple(self.per_dataset), self.KNOWN_DATASETS)):
            unknown = sorted(set(values) - set(known))
            if unknown:
                raise ValueError(f"{name}: unknown {unknown}; known: {list(known)}")
        if not self.seeds:
            raise ValueError("seeds: at least one seed is needed")
        for dataset in self.per_dataset:
            self.for_dataset(dataset)  # validates the override keys and types now

    def for_dataset(self, dataset: str):
        """This config with ``per_dataset[dataset]`` merged in."""
        overrides = self.per_dataset.get(dataset)
        if not overrides:
            return self
        plain = to_dict(self)
        plain["per_dataset"] = {}
        return build(type(self), deep_merge(plain, overrides, where=f"per_dataset.{dataset}"),
                     where=f"{self.PAPER}.per_dataset.{dataset}")


def reductions(settings: Mapping[str, tuple]) -> dict[str, list[str]]:
    """Per dataset, every setting in which the run differs from the paper profile (readable).

    ``settings``: dataset -> (the config that ran, the paper profile's config on the same
    data), as the runner derives them."""
    out = {}
    for dataset, (mine, paper) in settings.items():
        mine, paper = _comparable(mine), _comparable(paper)
        out[dataset] = [f"{key}: {value} (paper: {paper_value})"
                        for key, value, paper_value in setting_differences(mine, paper)]
    return out


def difference_frame(settings: Mapping[str, tuple]):
    """The same differences as a table: dataset, setting, this run, paper (one row each)."""
    import pandas as pd

    rows = [{"dataset": dataset, "setting": key, "this run": str(value), "paper": str(paper_value)}
            for dataset, (mine, paper) in settings.items()
            for key, value, paper_value in setting_differences(_comparable(mine), _comparable(paper))]
    return pd.DataFrame(rows, columns=["dataset", "setting", "this run", "paper"])


def _comparable(cfg) -> dict:
    plain = to_dict(cfg)
    for key in ("per_dataset", "datasets", "verbose"):
        plain.pop(key, None)
    return plain


def setting_differences(a, b, prefix=""):
    """(dotted key, a's value, b's value) for every setting in which two plain configs differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from setting_differences(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else key)
    elif a != b:
        yield prefix, a, b


def reduction_notes(changed: dict[str, list[str]], profile: str) -> dict[tuple[str, str], str]:
    """Comparison notes, one per dataset whose settings differ from the paper's protocol."""
    return {(dataset, "*"): f"{profile} profile: {len(items)} settings reduced vs the paper "
                            f"protocol (see the report)" for dataset, items in changed.items() if items}


def protocol_summary(cfg, paper_cfg, settings: Mapping[str, tuple], budget: Mapping[str, str]
                     ) -> str:
    """The budget a reduced profile cut, in a few words: "2 of 5 seeds; dense AE pretraining
    epochs 1-10 of 200". ``budget``: {dotted config key: label}, the knobs that matter for a
    verdict; values are ranged over the datasets that ran."""
    parts = []
    if len(cfg.seeds) != len(paper_cfg.seeds):
        parts.append(f"{len(cfg.seeds)} of {len(paper_cfg.seeds)} seeds")
    for key, label in budget.items():
        mine = sorted({_lookup(pair[0], key) for pair in settings.values()}, key=_order)
        paper = sorted({_lookup(pair[1], key) for pair in settings.values()}, key=_order)
        if mine != paper:
            parts.append(f"{label} {_span(mine)} of {_span(paper)}")
    return "; ".join(parts) or "the paper's budget (other settings differ: see the report)"


def _lookup(cfg, dotted: str):
    value = cfg
    for part in dotted.split("."):
        value = getattr(value, part)
    return tuple(value) if isinstance(value, list) else value


def _order(value):
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


def _span(values: list) -> str:
    if len(values) == 1:
        return str(values[0])
    if all(isinstance(v, (int, float)) for v in values):
        return f"{values[0]}-{values[-1]}"
    return "/".join(str(v) for v in values)
