"""Artifact documents from partial JSON, for tests: every required field a test leaves out gets
a zero value of its type (0, 0.0, "", false, an empty object or list), so a test states only
the values it checks. Optional keys stay absent."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from scepsy_opt.core.document import Document, Record


def _complete(value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
        origin = typing.get_origin(hint)
    if isinstance(hint, type) and issubclass(hint, Record):
        return _record({} if value is None else value, hint)
    if value is not None:
        if origin is dict:
            item = typing.get_args(hint)[1]
            return {k: _complete(v, item) for k, v in value.items()}
        if origin is tuple and typing.get_args(hint)[-1] is Ellipsis:
            return [_complete(v, typing.get_args(hint)[0]) for v in value]
        return value
    if origin is dict:
        return {}
    if origin is tuple:
        return []
    return {float: 0.0, int: 0, str: "", bool: False}.get(hint)


def _record(value: dict, kind: type[Record]) -> dict:
    hints = typing.get_type_hints(kind)
    out = dict(value)
    for f in dataclasses.fields(kind):  # type: ignore[arg-type]
        if f.metadata.get("flat"):
            out.update(_record(value, hints[f.name]))
        elif f.name in value:
            out[f.name] = _complete(value[f.name], hints[f.name])
        elif f.default is dataclasses.MISSING:
            out[f.name] = _complete(None, hints[f.name])
    return out


def document(kind: type[Document], **fields: Any) -> Any:
    """A ``kind`` document with ``fields`` (JSON values) and zero values elsewhere."""
    value = _record({"schema_version": kind.VERSION, **fields}, kind)
    if kind.KIND is not None:
        value["artifact"] = kind.KIND
    return kind.from_json(value, f"test {kind.ARTIFACT}")
