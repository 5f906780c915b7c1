"""Every stage's smoke profile on the jax backend (CPU), beside the default tensorflow one.

The Keras backend is fixed when keras is first imported, so each run is a fresh process with
``KERAS_BACKEND=jax``. What must agree across backends: the report's shape (files, cells,
verdict vocabulary) and every number computed without Keras (K-means, K-medoids, KDK-means
are numpy / scikit-learn, KSH on raw pixels is numpy: identical to the last digit). What may differ: the deep methods'
scores. At smoke budgets (one pretraining epoch, a few clustering steps) their float kernels
and random streams differ between backends (JAX's own PRNG, XLA's kernels), so ACC can move by
several points; no tolerance is claimed at this budget, only that each score is a valid
fraction.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

pytest.importorskip("jax")

# DeepCluster has no method without Keras (even its "random" row is a Keras-initialised network);
# UCNN's CNN-CM is numpy + faiss
RAW_METHODS = {"gapdcec": ["kmeans"], "pqdec": ["kmeans", "kmedoids", "kdkmeans"], "dqn": ["ksh"],
               "deepcluster": [], "ucnn": ["cnn_cm"]}
SCORES = {"gapdcec": ["acc", "nmi", "ari"], "pqdec": ["acc", "nmi", "ari"], "dqn": ["map"],
          "deepcluster": ["top1", "nmi_labels", "nmi_epochs", "downstream"], "ucnn": ["nmi"]}


def _run_stage(paper: str, root, backend: str) -> pd.DataFrame:
    code = ("from pathlib import Path; from repro.pipeline import run_stage; "
            f"run_stage({paper!r}, 'smoke', output_root=Path({str(root)!r}), log_output=False)")
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return _results(paper, root, backend)


def _results(paper: str, root, backend: str) -> pd.DataFrame:
    report = root / "reports" / paper / "smoke"
    provenance = json.loads((report / "provenance.json").read_text())
    assert provenance["keras_backend"] == backend
    assert provenance["extra"]["compute_device"] == "CPU"
    return pd.read_csv(report / "results.csv", keep_default_na=False, na_values={"value": [""]})


@pytest.mark.slow
@pytest.mark.parametrize("paper", ["gapdcec", "pqdec", "dqn", "deepcluster", "ucnn"])
def test_smoke_stage_on_jax_matches_tensorflow_where_keras_is_not_involved(paper, real_data,
                                                                            smoke_run, tmp_path):
    real_data("mnist-test"), real_data("usps")   # the jax process reads the same mirror
    jax = _run_stage(paper, tmp_path / "jax", "jax")
    tf = _results(paper, smoke_run(paper), "tensorflow")   # the run test_pipeline checks
    keys = ["dataset", "method", "variant", "metric", "seed", "repeat"]
    scores = SCORES[paper]
    assert sorted(map(tuple, jax[keys].values)) == sorted(map(tuple, tf[keys].values))
    assert jax[jax.metric.isin(scores)].value.between(0, 1).all()
    raw = jax.merge(tf, on=keys, suffixes=("_jax", "_tf"))
    raw = raw[raw.method.isin(RAW_METHODS[paper]) & raw.metric.isin(scores)]
    assert (len(raw) > 0) == bool(RAW_METHODS[paper])
    assert (raw.value_jax == raw.value_tf).all()
