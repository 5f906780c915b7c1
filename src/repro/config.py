"""params.yaml -> typed per-stage configuration.

``params.yaml`` (at the repository root) holds every knob. Its shape::

    profile: quick                 # smoke | quick | paper; `dvc exp run -S profile=paper`
    <stage>:
      base: {...}                  # the paper's protocol, every key of the stage's config
      profiles:
        smoke: {...}               # overrides merged (recursively) on top of base
        quick: {...}
        paper: {...}

:func:`stage_params` merges ``base`` with the selected profile's overrides, and
:func:`build` turns the merged mapping into the stage's dataclass, recursively, checking
every key and type. An unknown key, a wrong type or an unknown profile raises
:class:`ConfigError` naming it (with its dotted path), so a typo never silently falls back
to a default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Mapping

import yaml

PROFILES = ("smoke", "quick", "paper")


class ConfigError(ValueError):
    """A params.yaml problem: unknown key or profile, wrong type, missing section."""


def repo_root() -> Path:
    """The repository root: the nearest parent of this package holding dvc.yaml, else cwd."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "dvc.yaml").is_file() and (parent / "params.yaml").is_file():
            return parent
    return Path.cwd()


def load_params(path: str | Path | None = None) -> dict:
    """Read params.yaml (default: the repository's) into a plain dict."""
    path = Path(path) if path is not None else repo_root() / "params.yaml"
    if not path.is_file():
        raise ConfigError(f"params file not found: {path}")
    with path.open() as fh:
        params = yaml.safe_load(fh) or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(params).__name__}")
    return params


def deep_merge(base: Mapping, override: Mapping, *, where: str = "") -> dict:
    """``base`` updated recursively by ``override``.

    Override keys must exist in base, except inside a mapping that is empty in base or lies
    under ``per_dataset`` (free-form: any key of the stage's config, checked by the typed
    config when it is built).
    """
    merged = dict(base)
    free = ".per_dataset" in f".{where}"
    for key, value in override.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in base and (base or not where) and not free:
            raise ConfigError(f"unknown key {path!r} in profile overrides (not in base)")
        if key in base and isinstance(value, Mapping) and isinstance(base[key], Mapping):
            merged[key] = deep_merge(base[key], value, where=path)
        else:
            merged[key] = value
    return merged


def stage_params(params: Mapping, stage: str, profile: str | None = None) -> tuple[str, dict]:
    """(profile, merged mapping) for ``stage``; profile defaults to params['profile']."""
    profile = profile if profile is not None else params.get("profile", "quick")
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    if stage not in params:
        raise ConfigError(f"no section {stage!r} in params (sections: {sorted(params)})")
    section = params[stage]
    extra = set(section) - {"base", "profiles"}
    if extra or "base" not in section:
        raise ConfigError(f"section {stage!r} must hold 'base' and 'profiles' only (got {sorted(section)})")
    profiles = section.get("profiles") or {}
    unknown = set(profiles) - set(PROFILES)
    if unknown:
        raise ConfigError(f"unknown profile(s) {sorted(unknown)} in {stage}.profiles")
    overrides = profiles.get(profile) or {}
    return profile, deep_merge(section["base"], overrides, where=f"{stage}")


def build(cls: type, data: Any, *, where: str = ""):
    """Instantiate dataclass ``cls`` from ``data``, checking keys and types recursively."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {sorted(unknown)} at {where or cls.__name__}; known: {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{where}.{name}" if where else name)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # a required field missing, or __post_init__ refused
        raise ConfigError(f"{where or cls.__name__}: {exc}") from None


def _coerce(hint, value, where: str):
    """Check ``value`` against the type ``hint``; convert lists to tuples and ints to floats."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where=where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(option, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: {value!r} matches none of {hint}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {args}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        items = [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {k: _coerce(args[1], v, f"{where}.{k}") for k, v in value.items()} if args else dict(value)
    return _scalar(hint, value, where)


def _scalar(hint, value, where: str):
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected int, got bool {value!r}")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
    return value


def to_dict(config) -> dict:
    """A dataclass config as plain data (tuples as lists), for reports and provenance."""
    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v
    return plain(dataclasses.asdict(config))
