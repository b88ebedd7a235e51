"""Typed JSON documents: frozen dataclasses that mirror an artifact's JSON object field by
field, with :meth:`Record.to_json` and a validating :meth:`Record.from_json`.

Field order is key order; a field's annotation says what its value must be: ``str``, ``int``,
``float`` (an int is accepted and kept as it is, so a file reads back byte-identical), ``bool``,
``X | None``, ``dict[str, X]`` (an object keyed by ids), ``tuple[X, ...]`` (a list),
``tuple[A, B]`` (a fixed pair), a nested :class:`Record`, or :data:`Json` (a sub-tree no other
stage reads, kept as it is). Field helpers: :func:`optional` for a key that may be absent (absent
reads as ``None``, ``None`` is not written), :func:`optional_with` for a key written exactly
when another field is, and :func:`flat` for a record whose keys sit in the parent object.

A record's :meth:`Record.check` adds the ranges its types do not say (a TP degree, a fraction
in (0, 1]). Serialising computes nothing: the stage that produces a document computes its values;
:meth:`Record.to_json` only turns tuples into lists and non-finite floats into ``null``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar, Self

from scepsy_opt.core.artifacts import to_jsonable
from scepsy_opt.core.errors import ArtifactError

Json = Any  # a JSON sub-tree kept as read
_OPTIONAL, _WITH, _FLAT = "optional", "optional_with", "flat"


def optional() -> Any:
    """A key that may be absent: reads as ``None``, and ``None`` is not written."""
    return dataclasses.field(default=None, metadata={_OPTIONAL: True})


def optional_with(other: str) -> Any:
    """A key present exactly when the field ``other`` is (its value may be ``null``)."""
    return dataclasses.field(default=None, metadata={_WITH: other})


def flat() -> Any:
    """A nested record whose keys are the parent object's own keys, at this position."""
    return dataclasses.field(metadata={_FLAT: True})


@dataclasses.dataclass(frozen=True)
class Context:
    source: str
    fix: str

    def fail(self, path: str, problem: str, value: Any = ArtifactError._NO_VALUE,
             fix: str | None = None) -> None:
        raise ArtifactError(problem, source=self.source, field=path or None, value=value,
                            fix=fix or self.fix)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _parse(value: Any, hint: Any, path: str, ctx: Context) -> Any:
    """``value`` (JSON) as ``hint`` says, or an :class:`ArtifactError` naming ``path``."""
    if hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        rest = [o for o in options if o is not type(None)]
        if len(rest) == 1:
            return _parse(value, rest[0], path, ctx)
        raise TypeError(f"unsupported union {hint}")  # a bug in a document type
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint._parse(value, path, ctx)
    if origin is dict:
        if not isinstance(value, Mapping):
            ctx.fail(path, "expected an object", value)
        item = typing.get_args(hint)[1]
        return {str(k): _parse(v, item, join_path(path, str(k)), ctx) for k, v in value.items()}
    if origin is tuple:
        if not isinstance(value, list | tuple):
            ctx.fail(path, "expected a list", value)
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_parse(v, args[0], f"{path}[{i}]", ctx) for i, v in enumerate(value))
        if len(value) != len(args):
            ctx.fail(path, f"expected a list of {len(args)} values", value)
        return tuple(_parse(v, a, f"{path}[{i}]", ctx)
                     for i, (v, a) in enumerate(zip(value, args, strict=True)))
    return _scalar(value, hint, path, ctx)


def _scalar(value: Any, hint: type, path: str, ctx: Context) -> Any:
    if value is None:
        ctx.fail(path, "must not be null", value)
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        what = "a number"
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        what = "an integer"
    elif hint in (str, bool):
        ok = isinstance(value, hint)
        what = "a string" if hint is str else "true or false"
    else:
        raise TypeError(f"unsupported field type {hint}")  # a bug in a document type
    if not ok:
        ctx.fail(path, f"expected {what}", value)
    return value


def _dump(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, Mapping):
        return {str(k): _dump(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_dump(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return to_jsonable(value)


class Record:
    """Base of a JSON object mirrored by a frozen dataclass (subclasses are dataclasses)."""

    def to_json(self) -> dict[str, Any]:
        """The JSON object, keys in field order."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.metadata.get(_FLAT):
                out.update(value.to_json())
            elif not self._omitted(f, value):
                out[f.name] = _dump(value)
        return out

    def _omitted(self, f: dataclasses.Field, value: Any) -> bool:
        if f.metadata.get(_OPTIONAL):
            return value is None
        return _WITH in f.metadata and getattr(self, f.metadata[_WITH]) is None

    @classmethod
    def _parse(cls, value: Any, path: str, ctx: Context) -> Self:
        if not isinstance(value, Mapping):
            ctx.fail(path, "expected an object", value)
        hints = _hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            hint = hints[f.name]
            if f.metadata.get(_FLAT):
                kwargs[f.name] = hint._parse(value, path, ctx)
            elif f.name in value:
                kwargs[f.name] = _parse(value[f.name], hint, join_path(path, f.name), ctx)
            elif f.metadata.get(_OPTIONAL) or _WITH in f.metadata:
                kwargs[f.name] = None
            else:
                ctx.fail(join_path(path, f.name), "missing field")
        record = cls(**kwargs)
        record.check(path, ctx)
        return record

    def check(self, path: str, ctx: Context) -> None:
        """The record's own range checks, after its fields parsed (a subclass's rule that the
        types alone do not say); ``ctx.fail(...)`` names ``path`` and the field."""


class Document(Record):
    """A whole artifact file: a :class:`Record` with a ``schema_version`` field.

    ``ARTIFACT`` is its file name, ``STAGE`` the stage that writes it (named in the fix of a
    read error) and ``VERSION`` the schema version this release writes and reads.
    """

    ARTIFACT: ClassVar[str]
    STAGE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    KIND: ClassVar[str | None] = None  # the value of its "artifact" key, where it has one

    @classmethod
    def from_json(cls, value: Any, source: str) -> Self:
        """The document of a JSON value read from ``source`` (a path, or the stage that made
        it); :class:`ArtifactError` names the field and how to fix it."""
        ctx = Context(source, f"restore {cls.ARTIFACT} as the {cls.STAGE} stage wrote it, "
                               f"or re-run that stage")
        if not isinstance(value, Mapping):
            ctx.fail("", f"not the {cls.ARTIFACT} document: expected a JSON object", value)
        version = value.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            ctx.fail("schema_version", f"not the {cls.ARTIFACT} document: no schema version",
                     version)
        if version > cls.VERSION:
            raise ArtifactError(
                f"schema version {version} is newer than this scepsy_opt reads "
                f"({cls.VERSION})", source=source, field="schema_version", value=version,
                fix=f"upgrade scepsy_opt, or re-run the {cls.STAGE} stage with this release")
        if version != cls.VERSION:
            ctx.fail("schema_version", f"unknown schema version (this release reads "
                                       f"{cls.VERSION})", version)
        if cls.KIND is not None and value.get("artifact") != cls.KIND:
            ctx.fail("artifact", f"not the {cls.ARTIFACT} document (expected "
                                 f"artifact: {cls.KIND})", value.get("artifact"))
        return cls._parse(value, "", ctx)
