"""Serialising artifacts: JSON-ready conversion of frozen values and atomic file writes.

A write goes to a temporary file in the destination folder, is flushed to disk, then renamed over
the destination, so a failure leaves either the previous file or nothing, never a partial one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

SCHEMA_VERSION = 1


def to_jsonable(value: Any) -> Any:
    """Dataclasses, mappings, sequences and numpy scalars to plain JSON values.

    Non-finite floats become ``None`` (JSON has no NaN or infinity).
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _atomic_write(path: Path, mode: str, write: Callable[[IO[Any]], None]) -> None:
    """Call ``write`` on a temporary file next to ``path``, flush it to disk, then rename it
    over ``path`` (a failure removes the temporary file and leaves ``path`` as it was)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def atomic_write_lines(path: Path, lines: Iterable[str]) -> None:
    """Write ``lines`` to ``path`` atomically."""
    _atomic_write(path, "w", lambda handle: handle.writelines(lines))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    _atomic_write(path, "wb", lambda handle: handle.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_lines(path, [text])


def atomic_write_json(path: Path, value: Any) -> None:
    text = json.dumps(to_jsonable(value), indent=2, sort_keys=False, allow_nan=False)
    atomic_write_text(path, text + "\n")
