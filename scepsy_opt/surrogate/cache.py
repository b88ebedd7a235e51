"""The fit cache's folder: entries, their lock, corrupt entries and a cache that cannot be
written.

An entry is ``<key>.npz`` (the arrays) and ``<key>.json`` (the sidecar: the metadata and the
name, dtype and shape of every array), written in that order, each atomically: the sidecar marks
a complete entry. :func:`locked` holds an exclusive ``fcntl`` lock on ``locks/<key>.lock`` while
a process looks an entry up, fits it and saves it, so processes fitting the same key at once
(a sweep's jobs, runs sharing a cache) compute it once: the second waits, then reads the first's
entry. An entry that cannot be read back whole (a truncated or invalid sidecar or ``.npz``,
arrays that differ from the sidecar's list, metadata its reader cannot use) is logged, moved to
``quarantine/`` and fitted again. A cache folder that cannot be written (read-only, a full disk)
is warned about once, and the run goes on without keeping its fits there.
"""

from __future__ import annotations

import fcntl
import io
import json
import logging
import os
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np

from scepsy_opt.core.artifacts import atomic_write_bytes, atomic_write_text
from scepsy_opt.core.errors import OutputError

log = logging.getLogger(__name__)
T = TypeVar("T")
LOCKS = "locks"
QUARANTINE = "quarantine"
_unwritable: set[Path] = set()  # folders warned about: no more locks or saves there


class CorruptEntry(ValueError):
    """An entry that does not read back as it was written."""


def _give_up(folder: Path, reason: str) -> None:
    if folder not in _unwritable:
        _unwritable.add(folder)
        log.warning("the fit cache %s cannot be written (%s): this run goes on without "
                    "keeping its fits there. Fix: make it writable, or point fit.cache_dir "
                    "(or $SCEPSY_OPT_CACHE) at a writable folder, or set fit.cache=false",
                    folder, reason)


def writable(folder: Path | None) -> bool:
    """Whether fits are still saved into ``folder`` (False once it failed a write)."""
    return folder is not None and folder not in _unwritable


@contextmanager
def locked(folder: Path | None, key: str) -> Iterator[None]:
    """Hold the lock of ``key`` (nothing when there is no cache, or it cannot be written)."""
    if not writable(folder):
        yield
        return
    try:
        (folder / LOCKS).mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCKS / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        _give_up(folder, exc.strerror or str(exc))
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _read(folder: Path, key: str) -> tuple[dict, dict]:
    meta = json.loads((folder / f"{key}.json").read_text(encoding="utf-8"))
    if not isinstance(meta, dict) or not isinstance(meta.get("arrays"), dict):
        raise CorruptEntry("the sidecar is not an entry's JSON object")
    listed = meta.pop("arrays")
    with np.load(folder / f"{key}.npz", allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    found = {name: {"dtype": str(a.dtype), "shape": list(a.shape)} for name, a in arrays.items()}
    if found != listed:
        raise CorruptEntry(f"its arrays {sorted(found)} differ from the sidecar's "
                           f"{sorted(listed)} (or their shapes or dtypes do)")
    return arrays, meta


def load(folder: Path | None, key: str, build: Callable[[dict, dict], T]) -> T | None:
    """``build(arrays, meta)`` of the entry ``key``, or None when there is none. A corrupt
    entry (one that cannot be read, or that ``build`` cannot use: a ``KeyError``,
    ``TypeError``, ``ValueError`` or ``IndexError``) is quarantined and None returned."""
    if folder is None or not (folder / f"{key}.json").is_file():
        return None
    try:
        return build(*_read(folder, key))
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError, ValueError,
            IndexError) as exc:
        _quarantine(folder, key, f"{type(exc).__name__}: {exc}")
        return None


def _quarantine(folder: Path, key: str, reason: str) -> None:
    target = folder / QUARANTINE
    stamp = time.strftime("%Y%m%dT%H%M%S")
    log.warning("fit cache entry %s is corrupt (%s): moved to %s, fitting it again",
                folder / f"{key}.json", reason, target)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for suffix in (".json", ".npz"):  # the sidecar first: the entry is gone at once
            path = folder / f"{key}{suffix}"
            if path.exists():
                os.replace(path, target / f"{key}.{stamp}.{os.getpid()}{suffix}")
    except OSError as exc:
        _give_up(folder, f"cannot move the corrupt entry away: {exc.strerror or exc}")


def save(folder: Path | None, key: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write the entry ``key`` (``<key>.npz`` then its sidecar); a folder that cannot be
    written is warned about once and skipped from then on."""
    if not writable(folder):
        return
    arrays = {name: np.asarray(value) for name, value in arrays.items()}
    listed = {name: {"dtype": str(a.dtype), "shape": list(a.shape)} for name, a in arrays.items()}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    try:
        atomic_write_bytes(folder / f"{key}.npz", buffer.getvalue())
        atomic_write_text(folder / f"{key}.json",
                          json.dumps({**meta, "arrays": listed}, indent=1) + "\n")
    except OutputError as exc:
        _give_up(folder, exc.problem)
