"""The ``import`` profiler backend: profile tables from ``vllm bench serve`` and ``vllm bench
latency`` result files.

``path`` is one result file or a folder; a folder is searched recursively for ``*.json`` files
(sorted by path), so the per-run folders of a sweep can be imported at once. Files named
``*.pytorch.json`` are vLLM's companion files (see below) and are not results themselves. A file
holds one JSON object, or several one after the other (``vllm bench serve --append-result``).

Result formats (field names checked against vLLM's sources: ``vllm/benchmarks/serve.py`` at
commit 009e6d4a1cd6, ``vllm/benchmarks/latency.py`` at 00cae0753b8d and
``vllm/benchmarks/lib/utils.py`` at 07bf28ea9e1a; the older scripts
``benchmarks/benchmark_serving.py`` at 0049e29c41fd and ``benchmarks/benchmark_latency.py`` at
00db02095a5d; and the API pages of ``vllm.benchmarks.serve`` / ``vllm.benchmarks.latency`` for
vLLM v0.9.1 to v0.15.0):

* ``vllm bench serve --save-result`` (and ``benchmark_serving.py``) writes ``date``,
  ``backend``, ``model_id``, ``tokenizer_id``, ``num_prompts``, every ``--metadata KEY=VALUE``
  pair as a top-level key with a *string* value, ``request_rate`` (a number, or the string
  ``"inf"`` when all requests are sent at once), ``burstiness``, ``max_concurrency``, then the
  metrics: ``duration``, ``completed``, ``failed`` (newer releases), ``total_input_tokens``,
  ``total_output_tokens``, ``request_throughput``, ``output_throughput``,
  ``total_token_throughput`` and, per metric selected by ``--percentile-metrics`` (default
  ``ttft,tpot,itl``), ``mean_<m>_ms``, ``median_<m>_ms``, ``std_<m>_ms`` and ``p<q>_<m>_ms`` per
  percentile of ``--metric-percentiles`` (default ``99``). Newer releases also keep the
  per-request ``latencies`` (seconds). A serve result is recognised by ``request_throughput``.
* ``vllm bench latency --output-json`` (and ``benchmark_latency.py``) writes ``avg_latency``,
  ``std_latency`` (newer releases), ``latencies`` (one per iteration) and ``percentiles``
  (keys ``"10"``, ``"25"``, ``"50"``, ``"75"``, ``"90"``, ``"99"``), all in **seconds**. It does
  not record the model, the batch size nor the lengths. A latency result is recognised by
  ``avg_latency``.
* With ``SAVE_TO_PYTORCH_BENCHMARK_FORMAT=1`` both commands also write ``<name>.pytorch.json``
  next to ``<name>.json``: a list of records whose ``benchmark.extra_info.args`` holds the
  command's arguments (``model``, ``batch_size``, ``input_len``, ``output_len``,
  ``tensor_parallel_size``...). That companion file is the sidecar this backend reads.

Rows:

* a serve result gives one ``load`` row: ``rate_rps`` = ``request_rate``, ``throughput_rps`` =
  ``request_throughput``, TTFT and TPOT mean / p50 / p99 from ``mean_``, ``median_`` and ``p99_``
  ``ttft_ms`` / ``tpot_ms``, and the call latency from the ``e2el`` fields. Runs without
  ``e2el`` statistics (the default ``--percentile-metrics``) take them from the per-request
  ``latencies`` when every request completed (``failed`` is 0), exactly as vLLM computes them
  (numpy mean, median and linear percentile); otherwise the file is an error asking for
  ``--percentile-metrics ttft,tpot,itl,e2el``. A missing ``p99_`` field leaves the column empty.
  A result with ``request_rate`` ``"inf"`` is a burst, not Poisson arrivals at some rate: by
  default it is skipped with a logged warning (option ``infinite_rate: skip``); with
  ``infinite_rate: throughput`` it becomes a row whose ``rate_rps`` is the achieved
  ``request_throughput``, and the environment block says so. Ramp-up runs
  (``ramp_up_strategy``) have no single rate and are always skipped with a warning. A result in
  which no request completed is an error.
* a latency result gives one ``batch`` row: ``time_ms`` = percentile ``"50"`` (else the median
  of ``latencies``), ``time_ms_p10`` / ``time_ms_p90`` = percentiles ``"10"`` / ``"90"`` (else
  computed from ``latencies``), ``repetitions`` = the number of ``latencies``; ``batch_size``,
  ``prompt_tokens`` (``input_len``) and ``output_tokens`` (``output_len``) as resolved below.
  A run whose companion shows ``n`` > 1 or ``use_beam_search`` generated several sequences per
  prompt, which a ``batch`` row cannot express: it is an error.

Per-result values, each taken from the first source that has it: the import ``options``, then
keys in the result JSON, then the companion's ``benchmark.extra_info.args``, then the default:

* ``llm``: option ``llm``; key ``llm``, then (serve) ``model_id``; companion ``model``. No default.
* ``gpu``: option ``gpu``; key ``gpu``. No default.
* ``tp``: option ``tp``; key ``tp``; companion ``tensor_parallel_size``. Default 1.
* ``gpu_fraction``: option ``gpu_fraction``; key ``gpu_fraction``. Default 1.0.
* ``batch_size``, ``input_len``, ``output_len`` (latency results): the option, key and
  companion argument of that name. No default.

``options`` apply to every file of the import (they override what the files say); keys in the
result JSON are what ``--metadata KEY=VALUE`` writes (strings such as ``"2"`` are parsed), or
what a wrapper script adds to a latency result. ``options`` also takes ``infinite_rate``; any
other key is an error. An llm matches ``request.llm`` when it equals the llm's ``id`` or
``hf_id`` (ignoring case) or is a local path ending in ``/<hf_id>``; a GPU matches when it equals
``request.gpu.id`` (ignoring case). Results of other llms or GPUs are skipped (logged at debug
level). A result of the requested llm whose GPU is not known, or a latency result without batch
size or lengths, is an error: the backend never guesses them. The llm is resolved first, so
results of other llms need no GPU.

The environment block records ``backend: import``, the ``source`` path, the ``files`` that gave
rows, the ``skipped`` results and why, and the distinct ``date``, ``backend``
(``vllm_backend``), ``model_id``, vLLM ``version`` (from a ``version`` or ``vllm_version``
metadata key; ``unknown`` if none), ``burstiness`` and ``max_concurrency`` values of the results
used; ``rate_from_throughput`` and ``latency_from_per_request`` name the results whose rate or
call latency were derived as above. A burstiness other than 1 (gamma, not Poisson, arrivals) is
logged as a warning. ``previous`` is ignored: importing measures nothing.

Every problem with a file raises :class:`~scepsy_opt.core.profile_table.ProfileError` naming the
file (``<file> (result k)`` for the k-th result of a multi-result file) and the JSON key.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from scepsy_opt.core.profile_table import KINDS, ProfileError, ProfileTable, make_table
from scepsy_opt.core.profiling import ProfileRequest
from scepsy_opt.core.types import LlmSpec

logger = logging.getLogger(__name__)

COMPANION_SUFFIX = ".pytorch.json"
INFINITE_RATE_POLICIES = ("skip", "throughput")
OPTION_KEYS = ("llm", "gpu", "tp", "gpu_fraction", "batch_size", "input_len", "output_len",
               "infinite_rate")
_OPTIONS_SOURCE = "import profile options"
_METADATA_FIX = ("pass it in the import options or save it with the result "
                 "(vllm bench serve --metadata KEY=VALUE)")
_COMPANION_HINT = ("or keep vLLM's <name>.pytorch.json next to the result "
                   "(run vllm bench latency with SAVE_TO_PYTORCH_BENCHMARK_FORMAT=1)")


@dataclass(frozen=True)
class ImportBackend:
    """Profile tables from ``vllm bench serve`` / ``vllm bench latency`` JSON results.

    ``path`` is a result file or a folder of them; ``options`` are the profile-wide values of
    the module docstring (``llm``, ``gpu``, ``tp``, ``gpu_fraction``, ``batch_size``,
    ``input_len``, ``output_len``, ``infinite_rate``).
    """

    name: ClassVar[str] = "import"

    path: str | os.PathLike[str]
    options: Mapping[str, Any] = field(default_factory=dict)

    def profile(self, request: ProfileRequest, *, previous: ProfileTable | None = None
                ) -> ProfileTable:
        options = _parse_options(self.options)
        root = Path(self.path)
        importer = _Importer(request, options, root)
        for file in _result_files(root):
            importer.add_file(file)
        return importer.table()


# ------------------------------------------------------------------------------ options


@dataclass(frozen=True)
class _Options:
    values: Mapping[str, Any]
    infinite_rate: str = "skip"


def _parse_options(raw: Mapping[str, Any]) -> _Options:
    if not isinstance(raw, Mapping):
        raise ProfileError("the import options must be a mapping", source=_OPTIONS_SOURCE,
                           value=raw, fix=f"use keys among {', '.join(OPTION_KEYS)}")
    unknown = sorted(str(k) for k in raw if k not in OPTION_KEYS)
    if unknown:
        raise ProfileError("unknown import option(s)", source=_OPTIONS_SOURCE, field=unknown[0],
                           value=unknown, fix=f"use only {', '.join(OPTION_KEYS)}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None or key == "infinite_rate":
            continue
        values[key] = _PARSERS[key](value, _OPTIONS_SOURCE, key)
    policy = raw.get("infinite_rate") or "skip"
    if policy not in INFINITE_RATE_POLICIES:
        raise ProfileError("unknown infinite_rate policy", source=_OPTIONS_SOURCE,
                           field="infinite_rate", value=policy,
                           fix=f"use one of {', '.join(INFINITE_RATE_POLICIES)}")
    return _Options(values, policy)


# ------------------------------------------------------------------------------ value parsing


def _parse_int(value: Any, source: str, key: str) -> int:
    """A positive integer; strings (as ``--metadata`` writes them) are parsed."""
    number: Any = value
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int):
        raise ProfileError("expected an integer", source=source, field=key, value=value,
                           fix=f"set {key} to a positive integer")
    if number < 1:
        raise ProfileError("must be >= 1", source=source, field=key, value=value,
                           fix=f"set {key} to a positive integer")
    return number


def _parse_fraction(value: Any, source: str, key: str) -> float:
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise ProfileError("expected a number", source=source, field=key, value=value,
                           fix=f"set {key} to a number in (0, 1]")
    if not 0 < number <= 1:
        raise ProfileError("must be in (0, 1]", source=source, field=key, value=value,
                           fix=f"set {key} to the share of the GPU the instance had")
    return float(number)


def _parse_name(value: Any, source: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProfileError("expected a non-empty string", source=source, field=key, value=value,
                           fix=f"set {key} to an id of the catalog")
    return value.strip()


_PARSERS: dict[str, Callable[[Any, str, str], Any]] = {
    "llm": _parse_name, "gpu": _parse_name, "tp": _parse_int, "gpu_fraction": _parse_fraction,
    "batch_size": _parse_int, "input_len": _parse_int, "output_len": _parse_int,
}


def _measure(record: Mapping[str, Any], key: str, source: str, *, required: bool = True,
             fix: str | None = None) -> float | None:
    """A measured number: finite and >= 0; a missing optional one is ``None``."""
    if key not in record or (record[key] is None and not required):
        if not required:
            return None
        raise ProfileError("missing field", source=source, field=key,
                           fix=fix or "import the unmodified vllm bench result file")
    return _finite(record[key], source, key)


def _finite(value: Any, source: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileError("wrong type: expected a number", source=source, field=key,
                           value=value, fix="import the unmodified vllm bench result file")
    if not math.isfinite(value) or value < 0:
        raise ProfileError("must be a finite number >= 0", source=source, field=key, value=value,
                           fix="remove the result of a failed run or rerun the benchmark")
    return float(value)


def _seconds_list(record: Mapping[str, Any], key: str, source: str) -> list[float]:
    values = record.get(key)
    if not isinstance(values, list) or not values:
        raise ProfileError("expected a non-empty list of seconds", source=source, field=key,
                           value=values, fix="import the unmodified vllm bench result file")
    return [_finite(v, source, f"{key}[{i}]") for i, v in enumerate(values)]


# ------------------------------------------------------------------------------ files


def _result_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise ProfileError("the vllm bench result path does not exist", source=str(root),
                           fix="point the import backend at a result JSON file or a folder")
    files = sorted(p for p in root.rglob("*.json")
                   if p.is_file() and not p.name.endswith(COMPANION_SUFFIX))
    if not files:
        raise ProfileError("the folder holds no result files (*.json)", source=str(root),
                           fix="point the import backend at the vllm bench --result-dir folder")
    return files


def _read_json_objects(path: Path) -> list[Any]:
    """The JSON values in a file: one, or several written one after the other."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read the file ({exc})", source=str(path),
                           fix="check the path and its permissions") from None
    decoder = json.JSONDecoder()
    values, position = [], 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            break
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise ProfileError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: "
                               f"{exc.msg}", source=str(path),
                               fix="import the unmodified vllm bench result file") from None
        values.append(value)
    if not values:
        raise ProfileError("the file is empty", source=str(path),
                           fix="remove it or rerun the benchmark")
    return values


def _companion_args(result: Path) -> Mapping[str, Any]:
    """``benchmark.extra_info.args`` of vLLM's ``<name>.pytorch.json`` next to ``result``."""
    companion = result.with_name(result.name.removesuffix(".json") + COMPANION_SUFFIX)
    if not companion.is_file():
        return {}
    values = _read_json_objects(companion)
    records = values[0]
    here = "[0].benchmark.extra_info.args"
    try:
        args = records[0]["benchmark"]["extra_info"]["args"]
    except (KeyError, IndexError, TypeError):
        args = None
    if not isinstance(args, Mapping):
        raise ProfileError("expected vLLM's PyTorch benchmark records", source=str(companion),
                           field=here, fix="keep the companion file as vLLM wrote it or remove it")
    return args


# ------------------------------------------------------------------------------ import


@dataclass(frozen=True)
class _Lookup:
    """Resolves a per-result value through options, the result's keys and companion args."""

    options: Mapping[str, Any]
    record: Mapping[str, Any]
    companion: Mapping[str, Any]
    source: str
    companion_source: str

    def get(self, key: str, *, record_keys: tuple[str, ...] = (), companion_key: str | None = None
            ) -> Any:
        parse = _PARSERS[key]
        if key in self.options:
            return self.options[key]
        for name in record_keys or (key,):
            if self.record.get(name) is not None:
                return parse(self.record[name], self.source, name)
        if companion_key and self.companion.get(companion_key) is not None:
            return parse(self.companion[companion_key], self.companion_source,
                         f"benchmark.extra_info.args.{companion_key}")
        return None


def _llm_matches(name: str, llm: LlmSpec) -> bool:
    name = name.lower()
    hf_id = llm.hf_id.lower()
    return name in (llm.id.lower(), hf_id) or name.endswith("/" + hf_id)


def _result_kind(record: Any, source: str) -> str:
    if not isinstance(record, Mapping):
        raise ProfileError("expected a JSON object", source=source, value=type(record).__name__,
                           fix="import vllm bench serve or vllm bench latency result files")
    if "request_throughput" in record:
        return "serve"
    if "avg_latency" in record:
        return "latency"
    raise ProfileError("neither a vllm bench serve result (no request_throughput) nor a vllm "
                       "bench latency result (no avg_latency)", source=source,
                       fix="remove the file from the folder or point to the result files")


def _distinct(values: list[Any]) -> str:
    seen = sorted({str(v) for v in values if v is not None})
    return ", ".join(seen) if seen else "unknown"


class _Importer:
    """Collects the rows of one request, file after file."""

    def __init__(self, request: ProfileRequest, options: _Options, root: Path) -> None:
        self.request = request
        self.options = options
        self.root = root
        self.rows: list[dict[str, Any]] = []
        self.used: list[Mapping[str, Any]] = []
        self.files: list[str] = []
        self.skipped: list[str] = []
        self.found: dict[str, int] = {}
        self.e2el_from_latencies: list[str] = []
        self.rate_from_throughput: list[str] = []

    def _name(self, file: Path) -> str:
        return str(file.relative_to(self.root)) if self.root.is_dir() else file.name

    def add_file(self, file: Path) -> None:
        values = _read_json_objects(file)
        companion = _companion_args(file)
        for k, record in enumerate(values):
            source = str(file) if len(values) == 1 else f"{file} (result {k + 1})"
            label = self._name(file) if len(values) == 1 else f"{self._name(file)}#{k + 1}"
            self._add_record(record, source, label, companion,
                             str(file.with_name(file.name.removesuffix(".json")
                                                + COMPANION_SUFFIX)))

    def _add_record(self, record: Any, source: str, label: str, companion: Mapping[str, Any],
                    companion_source: str) -> None:
        kind = _result_kind(record, source)
        look = _Lookup(self.options.values, record, companion, source, companion_source)
        llm_keys = ("llm", "model_id") if kind == "serve" else ("llm",)
        llm = look.get("llm", record_keys=llm_keys, companion_key="model")
        if llm is None:
            raise ProfileError(f"the llm of this {kind} result is unknown", source=source,
                               field="model_id" if kind == "serve" else "llm",
                               fix=f"{_METADATA_FIX}, as llm=<catalog id>"
                                   + ("" if kind == "serve" else f", {_COMPANION_HINT}"))
        gpu = look.get("gpu")
        where = f"{llm} on {gpu or 'an unknown GPU'}"
        self.found[where] = self.found.get(where, 0) + 1
        if not _llm_matches(llm, self.request.llm):
            logger.debug("%s: a result of %s, not %s; skipped", source, llm, self.request.llm.id)
            return
        if gpu is None:
            raise ProfileError("the GPU of this result is unknown", source=source, field="gpu",
                               fix=f"{_METADATA_FIX}, as gpu={self.request.gpu.id}")
        if gpu.lower() != self.request.gpu.id.lower():
            logger.debug("%s: a result on %s, not %s; skipped", source, gpu, self.request.gpu.id)
            return
        config = {"tp": look.get("tp", companion_key="tensor_parallel_size") or 1,
                  "gpu_fraction": look.get("gpu_fraction") or 1.0, "status": "ok"}
        if kind == "serve":
            row = self._load_row(record, source, label)
        else:
            row = self._batch_row(record, source, look)
        if row is None:
            return
        self.rows.append({**config, **row})
        self.used.append(record)
        if label not in self.files:
            self.files.append(label)

    def _skip(self, label: str, source: str, reason: str) -> None:
        logger.warning("%s: %s; skipped", source, reason)
        self.skipped.append(f"{label} ({reason})")

    def _load_row(self, record: Mapping[str, Any], source: str, label: str
                  ) -> dict[str, Any] | None:
        completed = _measure(record, "completed", source)
        if completed == 0:
            raise ProfileError("no request of this run completed", source=source,
                               field="completed", value=record["completed"],
                               fix="remove the result of the failed run or rerun the benchmark")
        throughput = _measure(record, "request_throughput", source)
        if record.get("ramp_up_strategy") is not None:
            self._skip(label, source, "a ramp-up run has no single request rate")
            return None
        if "request_rate" not in record:
            raise ProfileError("missing field", source=source, field="request_rate",
                               fix="import the unmodified vllm bench serve result file")
        rate_value = record["request_rate"]
        if rate_value == "inf" or (isinstance(rate_value, float) and rate_value == math.inf):
            if self.options.infinite_rate == "skip":
                self._skip(label, source, "request_rate inf sends every request at once")
                return None
            rate = throughput
            self.rate_from_throughput.append(label)
        else:
            rate = _measure(record, "request_rate", source)
            if rate == 0:
                raise ProfileError("must be > 0", source=source, field="request_rate",
                                   value=rate_value, fix="import a run with a positive rate")
        burstiness = record.get("burstiness")
        if burstiness is not None and burstiness != 1:
            logger.warning("%s: burstiness %s: arrivals follow a gamma distribution, not Poisson",
                           source, burstiness)
        if record.get("failed"):
            logger.warning("%s: %s request(s) failed; the statistics cover the %d completed",
                           source, record["failed"], int(completed or 0))
        row: dict[str, Any] = {"kind": "load", "rate_rps": rate, "throughput_rps": throughput}
        for metric in ("ttft", "tpot"):
            row[f"{metric}_ms_mean"] = _measure(record, f"mean_{metric}_ms", source)
            row[f"{metric}_ms_p50"] = _measure(record, f"median_{metric}_ms", source)
            row[f"{metric}_ms_p99"] = _measure(record, f"p99_{metric}_ms", source, required=False)
        row.update(self._call_latency(record, source, label, completed))
        return row

    def _call_latency(self, record: Mapping[str, Any], source: str, label: str,
                      completed: float | None) -> dict[str, float | None]:
        if "mean_e2el_ms" in record or "latencies" not in record:
            fix = "rerun vllm bench serve with --percentile-metrics ttft,tpot,itl,e2el"
            return {"latency_ms_mean": _measure(record, "mean_e2el_ms", source, fix=fix),
                    "latency_ms_p50": _measure(record, "median_e2el_ms", source, fix=fix),
                    "latency_ms_p99": _measure(record, "p99_e2el_ms", source, required=False)}
        latencies = _seconds_list(record, "latencies", source)
        failed = record.get("failed")
        if failed != 0 or len(latencies) != completed:
            raise ProfileError("no e2el statistics, and the per-request latencies include "
                               "failed requests", source=source, field="mean_e2el_ms",
                               fix="rerun vllm bench serve with --percentile-metrics "
                                   "ttft,tpot,itl,e2el")
        seconds = np.asarray(latencies)
        self.e2el_from_latencies.append(label)
        return {"latency_ms_mean": float(np.mean(seconds)) * 1000,
                "latency_ms_p50": float(np.median(seconds)) * 1000,
                "latency_ms_p99": float(np.percentile(seconds, 99)) * 1000}

    def _batch_row(self, record: Mapping[str, Any], source: str, look: _Lookup
                   ) -> dict[str, Any]:
        _measure(record, "avg_latency", source)
        args = look.companion
        for key, fine in (("n", 1), ("use_beam_search", False)):
            if args.get(key, fine) != fine:
                raise ProfileError("the run generated several sequences per prompt (n > 1 or "
                                   "beam search); a batch row holds one sequence per request",
                                   source=look.companion_source,
                                   field=f"benchmark.extra_info.args.{key}", value=args[key],
                                   fix="import latency runs taken with --n 1, no beam search")
        latencies = _seconds_list(record, "latencies", source)
        shape = {}
        for key, column in (("batch_size", "batch_size"), ("input_len", "prompt_tokens"),
                            ("output_len", "output_tokens")):
            value = look.get(key, companion_key=key)
            if value is None:
                raise ProfileError(f"the {key} of this latency result is unknown "
                                   "(vllm bench latency does not record it)", source=source,
                                   field=key, fix=f"pass {key} in the import options, add "
                                                  f"\"{key}\" to the result {_COMPANION_HINT}")
            shape[column] = value
        percentiles = record.get("percentiles", {})
        if not isinstance(percentiles, Mapping):
            raise ProfileError("wrong type: expected an object of percentiles", source=source,
                               field="percentiles", value=percentiles,
                               fix="import the unmodified vllm bench latency result file")
        seconds = np.asarray(latencies)
        times = {}
        for q, column in ((50, "time_ms"), (10, "time_ms_p10"), (90, "time_ms_p90")):
            value = percentiles.get(str(q))
            if value is None:
                times[column] = float(np.percentile(seconds, q)) * 1000
            else:
                times[column] = _finite(value, source, f"percentiles.{q}") * 1000
        if times["time_ms"] <= 0:
            raise ProfileError("a batch latency must be > 0", source=source, field="percentiles.50",
                               value=times["time_ms"] / 1000, fix="rerun the benchmark")
        return {"kind": "batch", **shape, **times, "repetitions": len(latencies)}

    def table(self) -> ProfileTable:
        request = self.request
        if not self.rows:
            found = [f"{where} ({n} result(s))" for where, n in sorted(self.found.items())]
            problem = (f"no usable vllm bench result of {request.llm.id} ({request.llm.hf_id}) "
                       f"on {request.gpu.id}")
            if self.skipped:
                problem += f"; skipped: {'; '.join(self.skipped)}"
            raise ProfileError(problem, source=str(self.root), value=found or "no results",
                               fix="point to the results of this llm and GPU, or set llm / gpu "
                                   "in the import options or with --metadata llm=... gpu=...")
        order = {kind: i for i, kind in enumerate(KINDS)}

        def key(row: Mapping[str, Any]) -> tuple[Any, ...]:
            return (order[row["kind"]], row["tp"], row["gpu_fraction"], row.get("batch_size", 0),
                    row.get("prompt_tokens", 0), row.get("output_tokens", 0),
                    row.get("rate_rps", 0.0))

        rows = sorted(self.rows, key=key)
        used = self.used
        env: dict[str, str] = {
            "backend": "import",
            "source": str(self.root),
            "files": ", ".join(self.files),
            "skipped": "; ".join(self.skipped) or "none",
            "vllm_version": _distinct([r.get("vllm_version", r.get("version")) for r in used]),
            "date": _distinct([r.get("date") for r in used]),
            "vllm_backend": _distinct([r.get("backend") for r in used]),
            "model_id": _distinct([r.get("model_id") for r in used]),
            "burstiness": _distinct([r.get("burstiness") for r in used]),
            "max_concurrency": _distinct([r.get("max_concurrency") for r in used]),
            "infinite_rate": self.options.infinite_rate,
        }
        if self.rate_from_throughput:
            env["rate_from_throughput"] = (
                f"{', '.join(self.rate_from_throughput)} (request_rate inf: rate_rps is the "
                "achieved request_throughput of a burst, not a Poisson rate)")
        if self.e2el_from_latencies:
            env["latency_from_per_request"] = (
                f"{', '.join(self.e2el_from_latencies)} (no e2el statistics: mean, median and "
                "p99 of the per-request latencies)")
        return make_table(request.llm.id, request.gpu.id, env, rows)
