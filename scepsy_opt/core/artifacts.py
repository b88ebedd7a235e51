"""Serialising artifacts: JSON-ready conversion of frozen values and atomic file writes.

A write goes to a temporary file in the destination folder, is flushed to disk, then renamed over
the destination, so a failure leaves either the previous file or nothing, never a partial one.
Files and folders get the modes the process umask gives a plain ``open`` or ``mkdir`` (0644 and
0755 under umask 022), not the private ones of :mod:`tempfile`. An :class:`OSError` while writing
(a read-only folder, a full disk) becomes an :class:`~scepsy_opt.core.errors.OutputError` naming
the path (:func:`output_error`).
"""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from scepsy_opt.core.errors import OutputError

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


def umask() -> int:
    """The process umask (read from ``/proc`` where it can be, without changing it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):  # pragma: no cover - not on Linux
        pass
    mask = os.umask(0o022)  # pragma: no cover
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover


def file_mode(executable: bool = False) -> int:
    """The mode a new file gets from ``open`` (``executable``: from ``mkdir``) under the umask."""
    return (0o777 if executable else 0o666) & ~umask()


def make_dir(path: Path) -> None:
    """``mkdir -p path``; a failure is an :class:`OutputError` naming the path."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(path, exc) from None


def temporary_dir(beside: Path, suffix: str = ".tmp") -> Path:
    """A new empty folder next to ``beside`` (``.<name>.<random><suffix>``), with the mode
    ``mkdir`` gives under the umask."""
    try:
        folder = Path(tempfile.mkdtemp(prefix=f".{beside.name}.", suffix=suffix,
                                       dir=beside.parent))
        folder.chmod(file_mode(executable=True))
    except OSError as exc:
        raise output_error(beside.parent, exc) from None
    return folder


def output_error(path: Path, exc: OSError) -> OutputError:
    """The project error for an :class:`OSError` raised while writing ``path``."""
    reason = exc.strerror or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free space on the disk that holds it, or write to another directory"
    elif exc.errno in (errno.ENOTDIR, errno.EEXIST):
        fix = "a part of the path is a file, not a folder: remove it or write elsewhere"
    else:
        fix = "make the folder writable, or write to another directory"
    return OutputError(f"cannot write ({reason})", source=str(path),
                       fix=f"{fix} (a run's outputs: hydra.run.dir=<dir>; the fit cache: "
                           "fit.cache_dir=<dir>)")


def _atomic_write(path: Path, mode: str, write: Callable[[IO[Any]], None]) -> None:
    """Call ``write`` on a temporary file next to ``path``, flush it to disk, then rename it
    over ``path`` (a failure removes the temporary file and leaves ``path`` as it was; an
    :class:`OSError` becomes an :class:`OutputError` naming the path)."""
    make_dir(path.parent)
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
        raise output_error(path, exc) from None
    except BaseException:
        if tmp_name is not None:
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
