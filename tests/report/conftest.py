"""Shared fixtures: a small hand-made paper YAML and a writer for variants of it."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml

from repro.report.reported import load_reported

TOY = {
    "paper": "toy",
    "title": "A toy paper",
    "source": "toy.txt",
    "tolerance": {"acc": 0.02, "sec": None},
    "display": {"methods": {"a": "Method A"}, "datasets": {"d1": "Data 1"}},
    "tables": {"t1": {"caption": "Table 1", "results": [
        {"dataset": "d1", "method": "a", "metric": "acc", "value": 81.0, "unit": "%"},
        {"dataset": "d1", "method": "b", "metric": "acc", "value": 75.0, "unit": "%"},
        {"dataset": "d1", "method": "c", "metric": "acc", "value": 80.0, "unit": "%"},
        {"dataset": "d2", "method": "a", "metric": "acc", "value": 60.0, "unit": "%"},
        {"dataset": "d2", "method": "b", "metric": "acc", "value": 50.0, "unit": "%"},
        {"dataset": "d1", "method": "a", "metric": "sec", "value": 12.5, "unit": "s"},
    ]}},
    "claims": [
        {"id": "a_beats_b", "statement": "A > B", "left": "a", "op": ">", "right": "b",
         "for_each": {"dataset": "d1", "metric": "acc"}, "basis": "text"},
    ],
}


@pytest.fixture
def toy_dict():
    """A fresh deep copy of the valid toy paper, to be modified by a test."""
    return copy.deepcopy(TOY)


@pytest.fixture
def write_paper(tmp_path):
    """Write a paper dict to <tmp>/<paper>.yaml (or ``name``) and return the path."""
    def write(data: dict, name: str | None = None) -> Path:
        path = tmp_path / f"{name or data.get('paper', 'toy')}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path
    return write


@pytest.fixture
def toy_paper(toy_dict, write_paper):
    return load_reported(write_paper(toy_dict))


@pytest.fixture
def toy_results():
    """Hand-made reproduced numbers for the toy paper (see test_report_compare.py)."""
    rows = [("d1", "a", "acc", 0, 0.80), ("d1", "a", "acc", 1, 0.82), ("d1", "a", "acc", 2, 0.84),
            ("d1", "b", "acc", 0, 0.70),
            ("d1", "c", "acc", 0, 0.80), ("d1", "c", "acc", 1, 0.82),
            ("d1", "a", "sec", 0, 30.0),
            ("d1", "a", "nmi", 0, 0.5)]
    frame = pd.DataFrame(rows, columns=["dataset", "method", "metric", "seed", "value"])
    frame["unit"] = ["fraction"] * 6 + ["s", "fraction"]
    return frame
