"""Profile tables: the versioned, tidy CSV every profiler backend writes.

One file per (llm, GPU type). The file starts with ``#`` comment lines holding the schema version
and the environment block (backend, versions, device, ...), then one CSV header and one row per
point. Every row has a ``kind``:

========== ==================================================================================
kind        meaning of the row
========== ==================================================================================
prefill     one prefill of ``batch_size`` sequences of ``prompt_tokens`` each: ``time_ms``
decode      one decode step of ``batch_size`` running sequences with ``context_tokens`` each
batch       end-to-end latency (``time_ms``) of a batch of ``batch_size`` identical requests of
            ``prompt_tokens`` in and ``output_tokens`` out, run to completion together
memory      memory of an instance: ``weights_gib_per_gpu``, ``kv_bytes_per_token_per_gpu``,
            ``kv_capacity_tokens``, ``max_num_seqs`` (at ``context_tokens``)
load        a load curve point: Poisson arrivals of a call mix at ``rate_rps``; TTFT, TPOT and
            call latency statistics and the achieved ``throughput_rps``
========== ==================================================================================

Every row carries ``tp`` and ``gpu_fraction`` (the configuration) and a ``status``: ``ok``,
``infeasible`` (the configuration cannot hold the llm: ``error`` gives the numbers) or ``failed``
(the measurement raised: ``error`` holds the message). Columns that do not apply to a kind are
empty. Times are milliseconds; ``time_ms`` is the median over ``repetitions``, ``time_ms_p10`` and
``time_ms_p90`` its spread.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scepsy_opt.core.errors import ScepsyError

SCHEMA_VERSION = 1
HEADER_MAGIC = "scepsy_opt profile"
KINDS = ("prefill", "decode", "batch", "memory", "load")
STATUSES = ("ok", "infeasible", "failed")

# (column, type): int, float or str. Order is the CSV column order.
COLUMNS: tuple[tuple[str, type], ...] = (
    ("kind", str),
    ("llm", str),
    ("gpu", str),
    ("tp", int),
    ("gpu_fraction", float),
    ("status", str),
    ("batch_size", int),
    ("prompt_tokens", int),
    ("context_tokens", int),
    ("output_tokens", int),
    ("time_ms", float),
    ("time_ms_p10", float),
    ("time_ms_p90", float),
    ("repetitions", int),
    ("weights_gib_per_gpu", float),
    ("kv_bytes_per_token_per_gpu", float),
    ("kv_capacity_tokens", int),
    ("max_num_seqs", int),
    ("rate_rps", float),
    ("throughput_rps", float),
    ("ttft_ms_mean", float),
    ("ttft_ms_p50", float),
    ("ttft_ms_p99", float),
    ("tpot_ms_mean", float),
    ("tpot_ms_p50", float),
    ("tpot_ms_p99", float),
    ("latency_ms_mean", float),
    ("latency_ms_p50", float),
    ("latency_ms_p99", float),
    ("error", str),
)
COLUMN_TYPES = dict(COLUMNS)
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)
# Columns a row of each kind must fill when its status is "ok".
REQUIRED = {
    "prefill": ("batch_size", "prompt_tokens", "time_ms"),
    "decode": ("batch_size", "context_tokens", "time_ms"),
    "batch": ("batch_size", "prompt_tokens", "output_tokens", "time_ms"),
    "memory": ("weights_gib_per_gpu", "kv_bytes_per_token_per_gpu", "kv_capacity_tokens"),
    "load": ("rate_rps", "throughput_rps", "ttft_ms_mean", "tpot_ms_mean", "latency_ms_mean"),
}
_MISSING_INT = -1


class ProfileError(ScepsyError):
    """A profile table is malformed or a profiling run cannot proceed."""


@dataclass(frozen=True, eq=False)
class ProfileTable:
    """The rows of one profile, column by column.

    Integer columns use -1 and float columns NaN for "empty"; string columns use "".
    ``env`` is the environment block: backend, versions, device and how the data were taken.
    """

    llm: str
    gpu: str
    env: tuple[tuple[str, str], ...]
    columns: Mapping[str, np.ndarray] = field(repr=False)

    def __post_init__(self) -> None:
        lengths = {len(v) for v in self.columns.values()}
        if len(lengths) > 1 or set(self.columns) != set(COLUMN_NAMES):
            raise ValueError("a profile table needs every column, all of one length")
        for array in self.columns.values():
            array.flags.writeable = False

    def __len__(self) -> int:
        return len(self.columns["kind"])

    def __getitem__(self, column: str) -> np.ndarray:
        return self.columns[column]

    @property
    def backend(self) -> str:
        return dict(self.env).get("backend", "")

    def select(self, mask: np.ndarray) -> ProfileTable:
        return ProfileTable(self.llm, self.gpu, self.env,
                            {k: v[mask] for k, v in self.columns.items()})

    def rows(self, kind: str, *, status: str = "ok") -> ProfileTable:
        """The rows of one kind (and status)."""
        return self.select((self["kind"] == kind) & (self["status"] == status))

    def configurations(self) -> list[tuple[int, float]]:
        """The distinct (tp, gpu_fraction) pairs, sorted."""
        pairs = {(int(t), float(f)) for t, f in zip(self["tp"], self["gpu_fraction"], strict=True)}
        return sorted(pairs)

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts without empty cells (for tests and reports)."""
        out = []
        for i in range(len(self)):
            record = {}
            for name, kind in COLUMNS:
                value = self.columns[name][i]
                if _is_empty(value, kind):
                    continue
                record[name] = kind(value)
            out.append(record)
        return out


def _is_empty(value: Any, kind: type) -> bool:
    if kind is int:
        return int(value) == _MISSING_INT
    if kind is float:
        return math.isnan(float(value))
    return value == ""


def _empty_column(kind: type, n: int) -> np.ndarray:
    if kind is int:
        return np.full(n, _MISSING_INT, dtype=np.int64)
    if kind is float:
        return np.full(n, np.nan)
    return np.full(n, "", dtype=object)


def make_table(llm: str, gpu: str, env: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]
               ) -> ProfileTable:
    """Build a table from row dicts (missing columns are empty); validates every row."""
    rows = list(rows)
    columns = {name: _empty_column(kind, len(rows)) for name, kind in COLUMNS}
    for i, row in enumerate(rows):
        unknown = set(row) - set(COLUMN_TYPES)
        if unknown:
            raise ValueError(f"unknown profile column(s) {sorted(unknown)}")
        for name, value in row.items():
            if value is None:
                continue
            columns[name][i] = COLUMN_TYPES[name](value)
        columns["llm"][i] = llm
        columns["gpu"][i] = gpu
    table = ProfileTable(llm, gpu, tuple((str(k), str(v)) for k, v in env.items()), columns)
    validate(table, source=f"profile {llm} on {gpu}")
    return table


def table_from_columns(llm: str, gpu: str, env: Mapping[str, Any],
                       columns: Mapping[str, Any]) -> ProfileTable:
    """Build a table from whole columns (missing ones are empty); validates every row."""
    unknown = set(columns) - set(COLUMN_TYPES)
    if unknown:
        raise ValueError(f"unknown profile column(s) {sorted(unknown)}")
    lengths = {len(np.atleast_1d(v)) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError("profile columns differ in length")
    (n,) = lengths
    full = {}
    for name, kind in COLUMNS:
        if name in columns:
            values = np.atleast_1d(np.asarray(columns[name]))
            full[name] = values.astype(object) if kind is str else values.astype(
                np.int64 if kind is int else np.float64)
        else:
            full[name] = _empty_column(kind, n)
    full["llm"] = np.full(n, llm, dtype=object)
    full["gpu"] = np.full(n, gpu, dtype=object)
    table = ProfileTable(llm, gpu, tuple((str(k), str(v)) for k, v in env.items()), full)
    validate(table, source=f"profile {llm} on {gpu}")
    return table


def concat(tables: list[ProfileTable]) -> ProfileTable:
    """Rows of several tables of the same llm and GPU (the first table's environment)."""
    if not tables:
        raise ValueError("nothing to concatenate")
    first = tables[0]
    columns = {name: np.concatenate([t.columns[name] for t in tables]) for name in COLUMN_NAMES}
    return ProfileTable(first.llm, first.gpu, first.env, columns)


def validate(table: ProfileTable, *, source: str) -> None:
    """Check kinds, statuses, required columns, and that ok values are finite and positive.

    Vectorised over rows; the error names the first offending row (1-based, header excluded).
    """
    def first(bad: np.ndarray) -> str:
        return f"row {int(np.flatnonzero(bad)[0]) + 1}"

    kind, status = table["kind"], table["status"]
    bad = ~np.isin(kind, KINDS)
    if bad.any():
        raise ProfileError("unknown row kind", source=source, field=f"{first(bad)}.kind",
                           value=kind[bad][0], fix=f"use one of {', '.join(KINDS)}")
    bad = ~np.isin(status, STATUSES)
    if bad.any():
        raise ProfileError("unknown row status", source=source, field=f"{first(bad)}.status",
                           value=status[bad][0], fix=f"use one of {', '.join(STATUSES)}")
    fraction = table["gpu_fraction"]
    bad = ~((table["tp"] >= 1) & (fraction > 0) & (fraction <= 1))
    if bad.any():
        raise ProfileError("tp must be >= 1 and gpu_fraction in (0, 1]", source=source,
                           field=first(bad), fix="record the configuration the point was taken at")
    bad = (status != "ok") & (table["error"] == "")
    if bad.any():
        raise ProfileError("an infeasible or failed row needs an error message", source=source,
                           field=f"{first(bad)}.error", fix="say why the point has no data")
    ok = status == "ok"
    for row_kind, names in REQUIRED.items():
        rows = ok & (kind == row_kind)
        for name in names:
            values = table[name]
            if COLUMN_TYPES[name] is int:
                bad = rows & (values == _MISSING_INT)
            else:
                with np.errstate(invalid="ignore"):
                    bad = rows & ~(np.isfinite(values) & (values >= 0))
            if bad.any():
                raise ProfileError(f"a {row_kind} row needs a finite value >= 0 in {name}",
                                   source=source, field=f"{first(bad)}.{name}",
                                   fix=f"fill {name} with the measured or modelled value")
    bad = ok & np.isin(kind, ("prefill", "decode", "batch")) & ~(table["time_ms"] > 0)
    if bad.any():
        raise ProfileError("a step time must be > 0", source=source,
                           field=f"{first(bad)}.time_ms", fix="record the measured step time")


# ------------------------------------------------------------------------------ CSV


def _format(value: Any, kind: type) -> str:
    if _is_empty(value, kind):
        return ""
    if kind is float:
        return repr(float(value))
    return str(kind(value))


def to_csv(table: ProfileTable) -> str:
    buffer = io.StringIO()
    buffer.write(f"# {HEADER_MAGIC} schema {SCHEMA_VERSION}\n")
    for key, value in table.env:
        buffer.write(f"# {key}: {value}\n".replace("\r", " "))
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMN_NAMES)
    for i in range(len(table)):
        writer.writerow([_format(table.columns[name][i], kind) for name, kind in COLUMNS])
    return buffer.getvalue()


def write_csv(table: ProfileTable, path: str | os.PathLike[str]) -> None:
    """Write atomically (temporary file, then rename)."""
    from scepsy_opt.core.artifacts import atomic_write_text

    atomic_write_text(Path(path), to_csv(table))


def read_csv(path: str | os.PathLike[str]) -> ProfileTable:
    """Read and validate a profile CSV; errors name the file, line and column."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ProfileError("the profile file does not exist", source=source,
                           fix="run the profile stage or point to an existing profile CSV")
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if not lines or not lines[0].startswith(f"# {HEADER_MAGIC} schema "):
        raise ProfileError("not a scepsy_opt profile (missing header line)", source=f"{source}:1",
                           fix=f"the first line must be '# {HEADER_MAGIC} schema {SCHEMA_VERSION}'")
    version = lines[0].strip().rsplit(" ", 1)[-1]
    if version != str(SCHEMA_VERSION):
        raise ProfileError("unsupported profile schema version", source=f"{source}:1",
                           value=version, fix=f"regenerate the profile (schema {SCHEMA_VERSION})")
    env: dict[str, str] = {}
    body_start = 1
    while body_start < len(lines) and lines[body_start].startswith("#"):
        key, _, value = lines[body_start][1:].partition(":")
        env[key.strip()] = value.strip()
        body_start += 1
    # The body is parsed as a whole: quoted cells (error messages) may hold line breaks.
    reader = csv.reader(io.StringIO("".join(lines[body_start:])))
    header = next(reader, None)
    if header is None or tuple(header) != COLUMN_NAMES:
        missing = sorted(set(COLUMN_NAMES) - set(header or []))
        raise ProfileError("the column header does not match the schema",
                           source=f"{source}:{body_start + 1}", value=missing or header,
                           fix="regenerate the profile with this version of scepsy_opt")
    raw_rows = list(reader)
    columns = {name: _empty_column(kind, len(raw_rows)) for name, kind in COLUMNS}
    for r, row in enumerate(raw_rows):
        line_no = f"row {r + 1}"
        if len(row) != len(COLUMNS):
            raise ProfileError(f"expected {len(COLUMNS)} cells, found {len(row)}",
                               source=f"{source} {line_no}", fix="write one cell per column")
        for (name, kind), cell in zip(COLUMNS, row, strict=True):
            if cell == "":
                continue
            try:
                columns[name][r] = kind(cell)
            except ValueError:
                raise ProfileError(f"expected {kind.__name__}", source=f"{source} {line_no}",
                                   field=name, value=cell, fix="write a number") from None
    llms, gpus = set(columns["llm"]), set(columns["gpu"])
    if len(llms) > 1 or len(gpus) > 1:
        raise ProfileError("a profile holds one llm on one GPU type", source=source,
                           value={"llm": sorted(llms), "gpu": sorted(gpus)},
                           fix="split the file per llm and GPU")
    llm = next(iter(llms), env.get("llm", ""))
    gpu = next(iter(gpus), env.get("gpu", ""))
    table = ProfileTable(llm, gpu, tuple(env.items()), columns)
    validate(table, source=source)
    return table


def profile_filename(llm: str, gpu: str) -> str:
    """The file name of a profile in a run directory (``profiles/<llm>__<gpu>.csv``)."""
    return f"{llm}__{gpu}.csv"
