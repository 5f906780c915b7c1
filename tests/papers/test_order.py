"""A real stage's results do not depend on the order of its config's lists: DeepCluster's
columns share networks (the runner's run scope) and no cell reads another cell's results, so
its smoke profile with ``datasets`` and ``methods`` reversed gives the same numbers."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

TIMINGS = ("s", "MB")   # wall times and memory vary run to run; every other number must not
KEY = ["dataset", "method", "variant", "metric", "seed", "repeat"]


def _values(path):
    results = pd.read_csv(path, dtype={"variant": str}, keep_default_na=False,
                          na_values={"value": [""]})
    results = results[~results.unit.isin(TIMINGS)]
    return results.set_index(KEY)["value"].sort_index()


@pytest.mark.slow
def test_deepcluster_smoke_results_do_not_depend_on_the_order_of_datasets_and_methods(
        smoke_run, real_data, tmp_path):
    from repro.config import load_params
    from repro.papers.runner import run

    real_data("mnist-test"), real_data("usps")   # the run below reads the mirror
    params = load_params()
    stage = params["deepcluster"]
    smoke = stage["profiles"]["smoke"]
    for key in ("datasets", "methods"):
        smoke[key] = list(reversed(smoke.get(key, stage["base"][key])))
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    run("deepcluster", "smoke", params_path=path, report_dir=tmp_path / "r",
        figure_dir=tmp_path / "f")

    expected = _values(smoke_run("deepcluster") / "reports" / "deepcluster" / "smoke" / "results.csv")
    permuted = _values(tmp_path / "r" / "results.csv")
    assert {"top1", "downstream", "nmi_labels"} <= set(expected.index.get_level_values("metric"))
    pd.testing.assert_series_equal(permuted, expected)
