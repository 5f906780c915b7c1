"""params.yaml -> typed config: merging profiles and naming every bad key or type."""

from dataclasses import dataclass, field

import pytest

from repro.config import ConfigError, build, deep_merge, load_params, stage_params, to_dict


@dataclass
class Inner:
    epochs: int = 1
    learning_rate: float = 0.1


@dataclass
class Outer:
    name: str = "x"
    seeds: tuple[int, ...] = (0,)
    inner: Inner = field(default_factory=Inner)
    extra: dict[str, dict] = field(default_factory=dict)
    limit: int | None = None


PARAMS = {
    "profile": "quick",
    "stage": {
        "base": {"name": "base", "seeds": [0, 1], "inner": {"epochs": 10, "learning_rate": 0.01}},
        "profiles": {"smoke": {"inner": {"epochs": 1}}, "quick": {"seeds": [0]}},
    },
}


def test_profile_overrides_merge_recursively():
    profile, merged = stage_params(PARAMS, "stage", "smoke")
    cfg = build(Outer, merged)
    assert profile == "smoke"
    assert cfg.inner == Inner(epochs=1, learning_rate=0.01)
    assert cfg.seeds == (0, 1)


def test_default_profile_comes_from_params():
    profile, merged = stage_params(PARAMS, "stage")
    assert profile == "quick" and build(Outer, merged).seeds == (0,)


def test_unknown_profile_is_named():
    with pytest.raises(ConfigError, match="unknown profile 'fast'"):
        stage_params(PARAMS, "stage", "fast")


def test_unknown_key_is_named_with_its_path():
    with pytest.raises(ConfigError, match=r"inner.*epoch"):
        build(Outer, {"inner": {"epoch": 3}})


def test_override_of_key_missing_in_base_is_an_error():
    with pytest.raises(ConfigError, match="stage.inner.epoch"):
        deep_merge({"inner": {"epochs": 1}}, {"inner": {"epoch": 2}}, where="stage")


@pytest.mark.parametrize("data, where", [
    ({"inner": {"epochs": "ten"}}, "inner.epochs"),
    ({"inner": {"epochs": True}}, "inner.epochs"),
    ({"seeds": [0, "a"]}, r"seeds\[1\]"),
    ({"seeds": 3}, "seeds"),
    ({"name": 5}, "name"),
])
def test_wrong_type_is_named(data, where):
    with pytest.raises(ConfigError, match=where):
        build(Outer, data)


def test_int_accepted_for_float_and_optional_none():
    cfg = build(Outer, {"inner": {"learning_rate": 1}, "limit": None})
    assert isinstance(cfg.inner.learning_rate, float) and cfg.limit is None
    assert to_dict(cfg)["seeds"] == [0]


def test_missing_params_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")


def test_repository_params_build_for_every_profile():
    """Every stage section of the real params.yaml builds its typed config in every profile."""
    from repro.pipeline import PAPERS, stage_config

    params = load_params()
    for paper in PAPERS:
        for profile in ("smoke", "quick", "paper"):
            stage_config(paper, profile, params)


def test_profile_overrides_under_per_dataset_are_free_form_but_typed():
    from repro.config import build, deep_merge, stage_params
    from repro.papers.dqn import Config

    params = {"profile": "quick", "dqn": {"base": {"seeds": [0, 1, 2], "per_dataset": {
        "mnist-pairs": {"protocol": {"map_at": 5000}}}}, "profiles": {"quick": {"per_dataset": {
            "mnist-pairs": {"seeds": [0]}}}}}}
    _, merged = stage_params(params, "dqn", "quick")
    assert merged["per_dataset"]["mnist-pairs"] == {"protocol": {"map_at": 5000}, "seeds": [0]}
    cfg = build(Config, merged, where="dqn")
    assert cfg.for_dataset("mnist-pairs").seeds == (0,) and cfg.seeds == (0, 1, 2)
    bad = deep_merge(merged, {"per_dataset": {"mnist-pairs": {"bogus": 1}}})
    with pytest.raises(Exception, match="bogus"):
        build(Config, bad, where="dqn")
