"""Iteration-time models: how long one engine iteration of a given batch composition takes.

An iteration runs the decode step of ``decode_seqs`` sequences whose contexts sum to
``decode_context`` tokens, plus prefill chunks of ``prefill_tokens`` tokens in total whose causal
attention covers ``prefill_pairs`` (query, key) token pairs and reads ``prefill_kv`` cached
tokens; ``sampled`` sequences sample a token. Two models implement it:

- :class:`RooflineIterationModel`: the calibrated roofline of one llm, TP degree and GPU
  fraction, exactly as :func:`scepsy_opt.core.roofline.forward_ms` computes a step, with the
  token-dependent parts tabulated once so that an iteration costs a few scalar operations.
- :class:`TableIterationModel`: any profile table (measured with vLLM, imported, or modelled):
  decode steps interpolated over (batch, context), prefill over total tokens, a mixed iteration
  as their sum minus the fixed per-step cost both include.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from scepsy_opt.core.contention import UNLIMITED, StepParts
from scepsy_opt.core.profile_table import ProfileError, ProfileTable
from scepsy_opt.core.roofline import (
    MS,
    Arch,
    Hardware,
    RooflineParams,
    allreduce_ms,
    elementwise_ms,
    embedding_ms,
    gemm_ms,
    layer_ops_ms,
    shares,
)


class IterationModel(Protocol):
    """Time of one engine iteration (ms) for a batch composition, and its split for the
    contention model of instances sharing a GPU."""

    def step_ms(self, decode_seqs: int, decode_context: float, prefill_tokens: int,
                prefill_pairs: float, prefill_kv: float, sampled: int) -> float: ...

    def step_parts(self, decode_seqs: int, decode_context: float, prefill_tokens: int,
                   prefill_pairs: float, prefill_kv: float, sampled: int) -> StepParts: ...


@dataclass(frozen=True)
class _Tables:
    """A roofline step's token-dependent parts, tabulated at one (compute, bandwidth) share."""

    tokens_ms: np.ndarray
    sampled_ms: np.ndarray
    peak: float
    bandwidth: float

    def step_ms(self, model: RooflineIterationModel, tokens: int, sampled: int,
                pairs: float, kv: float) -> float:
        compute = pairs * model._flops_per_pair / self.peak
        memory = kv * model._bytes_per_token / self.bandwidth
        high = max(compute, memory)
        attention = model._attention_overhead
        if high > 0:
            s = model._smooth
            attention += high * ((compute / high) ** s + (memory / high) ** s) ** (1 / s) * MS
        return float(self.tokens_ms[tokens] + self.sampled_ms[min(sampled, model.max_sampled)]
                     + model.arch.layers * attention)


@dataclass(frozen=True, eq=False)
class RooflineIterationModel:
    """The roofline step of one llm at (tp, gpu_fraction), tabulated by token count, and its
    split into host, compute and memory-bound parts for the contention model
    (:func:`scepsy_opt.core.contention.step_parts`: the same step with bandwidth, then both
    resources, unlimited)."""

    arch: Arch
    hardware: Hardware
    params: RooflineParams
    tp: int
    gpu_fraction: float
    max_tokens: int
    max_sampled: int
    _tables: tuple[_Tables, _Tables, _Tables] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        p = self.params.as_mapping()
        compute, bandwidth = shares(self.gpu_fraction, p)
        heads = self.arch.heads / self.tp
        kv_bytes = 2 * self.arch.kv_heads_per_gpu(self.tp) * self.arch.head_dim * \
            self.arch.dtype_bytes
        object.__setattr__(self, "_flops_per_pair", 4.0 * heads * self.arch.head_dim)
        object.__setattr__(self, "_bytes_per_token", float(kv_bytes))
        object.__setattr__(self, "_smooth", p["gemm_smoothness"])
        object.__setattr__(self, "_attention_overhead", p["elementwise_overhead_us"] * 1e-3)
        object.__setattr__(self, "ceiling", float(bandwidth))
        object.__setattr__(self, "_tables", tuple(
            self._tabulate(p, compute * c, bandwidth * b)
            for c, b in ((1.0, 1.0), (1.0, UNLIMITED), (UNLIMITED, UNLIMITED))))

    def _tabulate(self, p: dict, compute: float, bandwidth: float) -> _Tables:
        tokens = np.arange(self.max_tokens + 1, dtype=np.float64)
        kw = {"compute_share": compute, "bandwidth_share": bandwidth}
        layer = sum(layer_ops_ms(self.arch, self.tp, np.maximum(tokens, 1.0), p, self.hardware,
                                 **kw).values())
        if self.tp > 1:
            fit = self.params.allreduce_fit(self.tp)
            layer = layer + 2 * allreduce_ms(tokens * self.arch.hidden * self.arch.dtype_bytes,
                                             fit)
        per_tokens = self.arch.layers * layer + elementwise_ms(
            tokens * self.arch.hidden * self.arch.dtype_bytes * 2, p["norm_eff"], p,
            self.hardware, bandwidth_share=bandwidth) + embedding_ms(
            self.arch, tokens, p, self.hardware, bandwidth_share=bandwidth)
        per_tokens[0] = 0.0
        sampled = np.arange(self.max_sampled + 1, dtype=np.float64)
        head = gemm_ms(np.maximum(sampled, 1.0), self.arch.hidden, self.arch.vocab / self.tp, p,
                       self.hardware, dtype_bytes=self.arch.dtype_bytes, **kw)
        head = head + p["step_overhead_ms"] + p["seq_overhead_us"] * 1e-3 * sampled
        return _Tables(per_tokens, head, self.hardware.peak_flops * compute *
                       p["attention_compute_eff"],
                       self.hardware.hbm_bytes_s * bandwidth * p["attention_memory_eff"])

    def _check(self, tokens: int) -> None:
        if tokens > self.max_tokens:
            raise ValueError(f"{tokens} tokens exceed the tabulated {self.max_tokens}")

    def step_ms(self, decode_seqs: int, decode_context: float, prefill_tokens: int,
                prefill_pairs: float, prefill_kv: float, sampled: int) -> float:
        tokens = decode_seqs + prefill_tokens
        self._check(tokens)
        return self._tables[0].step_ms(self, tokens, sampled, decode_context + prefill_pairs,
                                       decode_context + prefill_kv)

    def step_parts(self, decode_seqs: int, decode_context: float, prefill_tokens: int,
                   prefill_pairs: float, prefill_kv: float, sampled: int) -> StepParts:
        tokens = decode_seqs + prefill_tokens
        self._check(tokens)
        pairs, kv = decode_context + prefill_pairs, decode_context + prefill_kv
        full, unlimited_bw, unlimited = self._tables
        total = full.step_ms(self, tokens, sampled, pairs, kv)
        # attention's smooth maximum at unlimited bandwidth is its compute time (exactly, in
        # the limit), and nothing at both unlimited: its launch overhead alone
        sampled = min(sampled, self.max_sampled)
        layers = self.arch.layers
        host = float(unlimited.tokens_ms[tokens] + unlimited.sampled_ms[sampled]
                     + layers * self._attention_overhead)
        attention = (self._attention_overhead
                     + pairs * self._flops_per_pair / unlimited_bw.peak * MS)
        no_memory = float(unlimited_bw.tokens_ms[tokens] + unlimited_bw.sampled_ms[sampled]
                          + layers * attention)
        return StepParts(host, max(no_memory - host, 0.0), max(total - no_memory, 0.0),
                         self.ceiling, self.gpu_fraction)


def _log_interp(x: float, xs: np.ndarray, ys: np.ndarray) -> float:
    """Piecewise-linear interpolation in (log x, y), extrapolated linearly in x at the ends."""
    if xs.size == 1:
        return float(ys[0])
    if x <= xs[0]:
        slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
        return float(max(ys[0] + slope * (x - xs[0]), 0.5 * ys[0]))
    if x >= xs[-1]:
        slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        return float(ys[-1] + max(slope, 0.0) * (x - xs[-1]))
    return float(np.interp(math.log(x), np.log(xs), ys))


@dataclass(frozen=True, eq=False)
class TableIterationModel:
    """Iterations of one (tp, gpu_fraction) configuration interpolated from a profile table.

    A table holds step times, not their split: for the contention model the step is split in
    the proportions of the same configuration's roofline step (``split``)."""

    decode_batches: np.ndarray
    decode_contexts: np.ndarray
    decode_ms: np.ndarray  # [batch, context]
    prefill_tokens: np.ndarray
    prefill_ms: np.ndarray
    split: RooflineIterationModel | None = None

    def step_parts(self, decode_seqs: int, decode_context: float, prefill_tokens: int,
                   prefill_pairs: float, prefill_kv: float, sampled: int) -> StepParts:
        args = (decode_seqs, decode_context, prefill_tokens, prefill_pairs, prefill_kv,
                sampled)
        if self.split is None:
            raise ProfileError("a profile table alone cannot split its steps for GPU sharing",
                               source="table iteration model",
                               fix="build the model with split= the configuration's roofline")
        parts = self.split.step_parts(*args)
        scale = self.step_ms(*args) / parts.alone_ms if parts.alone_ms > 0 else 1.0
        return StepParts(parts.host_ms * scale, parts.compute_ms * scale,
                         parts.memory_ms * scale, parts.ceiling, parts.gpu_fraction)

    @staticmethod
    def from_table(table: ProfileTable, tp: int, gpu_fraction: float,
                   split: RooflineIterationModel | None = None) -> TableIterationModel:
        where = f"profile {table.llm} on {table.gpu} at TP {tp} x {gpu_fraction:g}"
        config = (table["tp"] == tp) & np.isclose(table["gpu_fraction"], gpu_fraction)
        ok = config & (table["status"] == "ok")
        decode = ok & (table["kind"] == "decode")
        prefill = ok & (table["kind"] == "prefill")
        if not prefill.any():
            raise ProfileError("no prefill rows for this configuration", source=where,
                               fix="profile the configuration (or use the roofline backend)")
        batches = np.unique(table["batch_size"][decode])
        contexts = np.unique(table["context_tokens"][decode])
        grid = np.full((batches.size, contexts.size), np.nan)
        for b, c, t in zip(table["batch_size"][decode], table["context_tokens"][decode],
                           table["time_ms"][decode], strict=True):
            grid[np.searchsorted(batches, b), np.searchsorted(contexts, c)] = t
        if decode.any() and np.isnan(grid).any():
            raise ProfileError("the decode rows do not form a full (batch x context) grid",
                               source=where, fix="profile every batch at every context")
        total = table["batch_size"][prefill] * table["prompt_tokens"][prefill]
        order = np.argsort(total, kind="stable")
        totals, times = total[order].astype(np.float64), table["time_ms"][prefill][order]
        unique, first = np.unique(totals, return_index=True)
        return TableIterationModel(batches.astype(np.float64), contexts.astype(np.float64),
                                   grid, unique, np.maximum.accumulate(times[first]), split)

    def _decode(self, seqs: int, context: float) -> float:
        by_context = np.array([_log_interp(context, self.decode_contexts, row)
                               for row in self.decode_ms])
        return _log_interp(float(seqs), self.decode_batches, by_context)

    def step_ms(self, decode_seqs: int, decode_context: float, prefill_tokens: int,
                prefill_pairs: float, prefill_kv: float, sampled: int) -> float:
        prefill = _log_interp(float(prefill_tokens), self.prefill_tokens, self.prefill_ms) \
            if prefill_tokens else 0.0
        if not decode_seqs:
            return prefill
        if self.decode_batches.size == 0:
            raise ProfileError("the profile has no decode rows", source="table iteration model",
                               fix="profile decode steps of this configuration")
        decode = self._decode(decode_seqs, decode_context / decode_seqs)
        if not prefill_tokens:
            return decode
        # Both include the weight reads and the per-step overhead of one step: count them once.
        base = min(float(self.decode_ms[0, 0]), decode, prefill)
        return decode + prefill - base
