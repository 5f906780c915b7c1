"""What every paper's stage config shares: per-dataset overrides and the profile's reductions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from repro.config import build, deep_merge, to_dict


class StageConfig:
    """Mixin for a paper's ``Config`` dataclass with fields ``datasets``, ``seeds``,
    ``methods`` and ``per_dataset`` (dataset -> overrides of the other fields)."""

    PAPER: ClassVar[str]
    KNOWN_DATASETS: ClassVar[tuple[str, ...]]
    KNOWN_METHODS: ClassVar[tuple[str, ...]]

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


def reductions(cfg: StageConfig, paper_cfg: StageConfig) -> dict[str, list[str]]:
    """Per dataset, every setting in which ``cfg`` differs from the paper profile (readable)."""
    out = {}
    for dataset in cfg.datasets:
        mine, paper = to_dict(cfg.for_dataset(dataset)), to_dict(paper_cfg.for_dataset(dataset))
        for plain in (mine, paper):
            plain.pop("per_dataset")
            plain.pop("datasets")
        out[dataset] = [f"{key}: {value} (paper: {paper_value})"
                        for key, value, paper_value in _differences(mine, paper)]
    return out


def _differences(a, b, prefix=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _differences(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else key)
    elif a != b:
        yield prefix, a, b


def reduction_notes(changed: dict[str, list[str]], profile: str) -> dict[tuple[str, str], str]:
    """Comparison notes, one per dataset whose settings differ from the paper's protocol."""
    return {(dataset, "*"): f"{profile} profile: {len(items)} settings reduced vs the paper "
                            f"protocol (see the report)" for dataset, items in changed.items() if items}


@dataclass
class Outcome:
    """What a paper's ``run`` produced (all of it is also written under the report folder)."""

    results: "object"        # pandas DataFrame, results.csv
    histories: "object"      # pandas DataFrame, histories.csv
    comparison: "object"     # pandas DataFrame, comparison.csv
    claims: "object"         # pandas DataFrame, claims.csv
    provenance: dict
    figures: dict[str, Path]
    not_run: dict[str, str] = field(default_factory=dict)  # dataset -> why it was not run


def own_outputs(paper: str) -> tuple[str, ...]:
    """Repository-relative folders a paper's stage writes (its DVC outs): reports/<paper>/ and
    figures/<paper>/; their changes do not make the provenance's git state dirty."""
    return (f"reports/{paper}/", f"figures/{paper}/")
