"""Settings: each stage's frozen dataclass is both its typed settings and Hydra's schema.

A stage declares its settings once, as a frozen dataclass whose fields carry the types
(``Literal`` for choices), the defaults and the documentation, and whose ``__post_init__``
checks ranges with :func:`check`. From it:

- :func:`schema` derives the mutable structured config Hydra composes and type-checks (OmegaConf
  knows neither ``Literal`` nor tuples: choices become ``str``/``int``, tuples lists, pairs
  mappings), so an unknown key or a value of the wrong type fails composition with its full key;
- :func:`build` converts a composed (plain) mapping into the frozen dataclass, checks every
  ``Literal`` choice and prefixes every range error with the key path (``fit.calibration.loads``).

A field declared with :func:`run_field` is not a key of its own group: :func:`build` fills it
from the run's top-level value of that name (the run's seed).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin

from omegaconf import MISSING

from scepsy_opt.core.errors import ConfigError

FROM_RUN = "scepsy_from_run"


def run_field(name: str, default: Any) -> Any:
    """A field filled from the run's top-level setting ``name`` (not a key of its group)."""
    return dataclasses.field(default=default, metadata={FROM_RUN: name})


# ------------------------------------------------------------------------------ range checks

def check(ok: bool, field: str, problem: str, value: Any, fix: str) -> None:
    """Raise the :class:`ConfigError` of a bad setting unless ``ok`` (``field`` relative to
    its dataclass: :func:`build` prefixes the path)."""
    if not ok:
        raise ConfigError(problem, source="config", field=field, value=value, fix=fix)


def positive(value: float, field: str, fix: str, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    check(math.isfinite(value) and ok, field, f"must be {'>= 0' if allow_zero else '> 0'}",
          value, fix)


def fraction(value: float, field: str, fix: str) -> None:
    check(math.isfinite(value) and 0 < value <= 1, field, "must be in (0, 1]", value, fix)


def positive_ints(values: tuple[int, ...], field: str) -> None:
    check(bool(values) and all(v > 0 for v in values), field,
          "must be a non-empty list of positive integers", list(values), "list e.g. [1, 8, 32]")


def check_loads(values: tuple[float, ...], field: str) -> None:
    check(bool(values) and all(0 < x < 1 for x in values), field,
          "every load must be in (0, 1)", list(values), "use utilisations such as [0.3, 0.7]")


def normalise(obj: Any, name: str, value: Any) -> None:
    """Set a frozen dataclass field from ``__post_init__`` (e.g. a list sorted and deduplicated)."""
    object.__setattr__(obj, name, value)


# ------------------------------------------------------------------------------ types

def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _keys(cls: type) -> list[dataclasses.Field]:
    """The fields that are keys of the group: not filled from the run, not derived."""
    return [f for f in dataclasses.fields(cls) if f.init and FROM_RUN not in f.metadata]


def _optional(hint: Any) -> Any | None:
    """``X`` of ``X | None``; None when ``hint`` is not optional."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(get_args(hint)) == 2:
            return args[0]
    return None


def _pairs(hint: Any) -> Any | None:
    """``X`` of ``tuple[tuple[str, X], ...]`` (a mapping kept as ordered pairs)."""
    if get_origin(hint) is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis and get_origin(args[0]) is tuple:
            inner = get_args(args[0])
            if len(inner) == 2 and inner[0] is str and inner[1] is not Ellipsis:
                return inner[1]  # not tuple[str, ...]: a tuple of string tuples
    return None


def _items(hint: Any) -> Any | None:
    """``X`` of ``tuple[X, ...]``."""
    if get_origin(hint) is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
    return None


def _schema_type(hint: Any) -> Any:
    if get_origin(hint) is Literal:
        return type(get_args(hint)[0])
    inner = _optional(hint)
    if inner is not None:
        return _schema_type(inner) | None
    if dataclasses.is_dataclass(hint):
        return schema(hint)
    value = _pairs(hint)
    if value is not None:
        return dict[str, _schema_type(value)]
    item = _items(hint)
    if item is not None:
        return list[_schema_type(item)]
    if get_origin(hint) is dict:
        return dict[str, _schema_type(get_args(hint)[1])]
    return hint


def _schema_value(hint: Any, value: Any) -> Any:
    """A settings value as its schema counterpart (a default of the schema)."""
    if value is None:
        return None
    inner = _optional(hint)
    if inner is not None:
        return _schema_value(inner, value)
    if dataclasses.is_dataclass(hint):
        hints = _hints(hint)
        return schema(hint)(**{f.name: _schema_value(hints[f.name], getattr(value, f.name))
                               for f in _keys(hint)})
    if _pairs(hint) is not None:
        return {k: _schema_value(_pairs(hint), v) for k, v in value}
    if _items(hint) is not None:
        return [_schema_value(_items(hint), v) for v in value]
    if isinstance(value, dict):
        return dict(value)
    return value


@functools.cache
def schema(cls: type) -> type:
    """The mutable structured config Hydra composes for the frozen settings ``cls``."""
    hints = _hints(cls)
    fields = []
    for f in _keys(cls):
        hint = hints[f.name]
        if f.default is not dataclasses.MISSING:
            default = _schema_value(hint, f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = _schema_value(hint, f.default_factory())
        else:
            fields.append((f.name, _schema_type(hint), dataclasses.field(default=MISSING)))
            continue
        if isinstance(default, list | dict) or dataclasses.is_dataclass(default):
            spec = dataclasses.field(default_factory=functools.partial(_copy, default))
        else:
            spec = dataclasses.field(default=default)
        fields.append((f.name, _schema_type(hint), spec))
    made = dataclasses.make_dataclass(f"{cls.__name__}Schema", fields)
    made.__doc__ = cls.__doc__
    return made


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


# ------------------------------------------------------------------------------ conversion

def _convert(hint: Any, value: Any, key: str, run: Mapping[str, Any]) -> Any:
    if hint is Any:
        return value
    if get_origin(hint) is Literal:
        choices = get_args(hint)
        check(value in choices, key, "unknown option", value,
              f"use one of {', '.join(map(str, choices))}")
        return value
    inner = _optional(hint)
    if inner is not None:
        return None if value is None else _convert(inner, value, key, run)
    if dataclasses.is_dataclass(hint):
        check(isinstance(value, Mapping), key, "must be a mapping", value,
              "give the group's keys")
        return build(hint, value, path=key, run=run)
    if _pairs(hint) is not None:
        check(isinstance(value, Mapping), key, "must be a mapping", value, "give key: value pairs")
        return tuple((str(k), _convert(_pairs(hint), v, f"{key}.{k}", run))
                     for k, v in value.items())
    if _items(hint) is not None:
        check(isinstance(value, list | tuple), key, "must be a list", value, "give a list")
        return tuple(_convert(_items(hint), v, f"{key}[{i}]", run) for i, v in enumerate(value))
    if get_origin(hint) is dict:
        return {str(k): _convert(get_args(hint)[1], v, f"{key}.{k}", run)
                for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def build(cls: type, data: Mapping[str, Any], *, path: str = "",
          run: Mapping[str, Any] | None = None) -> Any:
    """The frozen settings ``cls`` from a composed mapping (absent keys take their defaults);
    errors name the full key (``path`` + field)."""
    run = run or {}
    hints = _hints(cls)
    names = {f.name for f in _keys(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError("unknown setting", source="config",
                          field=f"{path}.{unknown[0]}" if path else unknown[0],
                          fix=f"use one of {', '.join(sorted(names))}")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = f"{path}.{f.name}" if path else f.name
        if not f.init:
            continue
        if FROM_RUN in f.metadata:
            if f.metadata[FROM_RUN] in run:
                values[f.name] = run[f.metadata[FROM_RUN]]
        elif f.name in data:
            values[f.name] = _convert(hints[f.name], data[f.name], key, run)
    try:
        return cls(**values)
    except ConfigError as error:
        if not path or error.source != "config":
            raise
        raise ConfigError(error.problem, source=error.source,
                          field=f"{path}.{error.field}" if error.field else path,
                          value=error.value, fix=error.fix) from None
