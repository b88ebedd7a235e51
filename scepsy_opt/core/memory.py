"""Memory of one instance: weights per GPU, KV cache capacity, how many sequences fit.

An instance of an llm at TP degree ``tp`` and GPU fraction ``f`` gets, on each of its ``tp``
GPUs, a budget of ``memory_utilization * f * gpu_memory`` (vLLM's ``gpu_memory_utilization`` is
``memory_utilization * f``). From it come:

- weights per GPU: ``weight_bytes / tp``, plus the key/value projections that vLLM replicates
  when ``tp`` exceeds the llm's KV heads;
- a reserve for everything that is not weights or KV cache: ``runtime_overhead_gib`` (CUDA
  context, NCCL and cuBLAS workspaces, CUDA graphs) plus the activation peak of a forward pass of
  ``max_num_batched_tokens`` tokens, ``tokens * (4 * hidden + 3 * intermediate / tp) * dtype``
  bytes, and the fp32 logits of ``max_num_seqs`` sequences over the vocabulary shard;
- KV bytes per token per GPU: ``2 * layers * max(1, kv_heads // tp) * head_dim * dtype``;
- KV capacity: what is left, in tokens, rounded down to whole blocks of ``block_size`` tokens;
- max sequences at a context length: ``min(max_num_seqs, capacity // context)``.

The configuration is infeasible when the weights and reserve exceed the budget or the KV cache
holds fewer than ``min_kv_tokens`` tokens; the reason states the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from scepsy_opt.core.settings import check, fraction, positive
from scepsy_opt.core.types import GpuSpec, LlmSpec

GIB = 2**30


@dataclass(frozen=True)
class MemorySettings:
    """The instance memory model (this module) and vLLM's engine limits
    (``profile.memory``)."""

    memory_utilization: float = 0.9
    runtime_overhead_gib: float = 1.0
    max_num_batched_tokens: int = 8192
    max_num_seqs: int = 256
    block_size: int = 16
    min_kv_tokens: int = 2048

    def __post_init__(self) -> None:
        fraction(self.memory_utilization, "memory_utilization",
                 "use vLLM's gpu_memory_utilization, e.g. 0.9")
        positive(self.runtime_overhead_gib, "runtime_overhead_gib",
                 "reserve GiB for the CUDA context and workspaces", allow_zero=True)
        for key in ("max_num_batched_tokens", "max_num_seqs", "block_size", "min_kv_tokens"):
            check(getattr(self, key) > 0, key, "must be > 0", getattr(self, key),
                  "use vLLM's engine limits")


@dataclass(frozen=True)
class MemoryPlan:
    """Memory of one instance on each of its GPUs."""

    llm: str
    gpu: str
    tp: int
    gpu_fraction: float
    budget_gib_per_gpu: float
    weights_gib_per_gpu: float
    reserve_gib_per_gpu: float
    kv_bytes_per_token_per_gpu: int
    kv_capacity_tokens: int
    max_num_seqs_cap: int
    feasible: bool
    reason: str

    def running_sequences(self, prompt_tokens: int, output_tokens: int) -> int:
        """How many requests of this shape run at once (at least 1 when feasible).

        A request's KV footprint grows from ``prompt`` to ``prompt + output`` tokens; the engine
        admits requests while blocks are free and preempts only when they run out, so the number
        running tracks the capacity over the mean footprint ``prompt + output / 2``.
        """
        if not self.feasible:
            return 0
        footprint = max(1.0, prompt_tokens + output_tokens / 2)
        return max(1, min(self.max_num_seqs_cap, int(self.kv_capacity_tokens // footprint)))

    def max_num_seqs(self, context_tokens: int) -> int:
        """Sequences of ``context_tokens`` that fit at once (0 when infeasible)."""
        if not self.feasible:
            return 0
        return min(self.max_num_seqs_cap, self.kv_capacity_tokens // max(1, context_tokens))


def kv_heads_per_gpu(llm: LlmSpec, tp: int) -> int:
    return max(1, llm.num_kv_heads // tp)


def weight_bytes_per_gpu(llm: LlmSpec, tp: int) -> float:
    replicated = 0.0
    if tp > llm.num_kv_heads:
        # each GPU holds a whole KV head of the k and v projections instead of kv_heads / tp
        per_layer = 2 * llm.hidden_size * llm.head_dim * llm.dtype_bytes
        replicated = llm.num_layers * per_layer * (1 - llm.num_kv_heads / tp)
    return llm.weight_bytes / tp + replicated


def memory_plan(llm: LlmSpec, gpu: GpuSpec, tp: int, gpu_fraction: float,
                settings: MemorySettings = MemorySettings()) -> MemoryPlan:
    budget = settings.memory_utilization * gpu_fraction * gpu.memory_bytes
    weights = weight_bytes_per_gpu(llm, tp)
    tokens = settings.max_num_batched_tokens
    activations = tokens * (4 * llm.hidden_size + 3 * llm.intermediate_size / tp) * \
        llm.dtype_bytes + settings.max_num_seqs * (llm.vocab_size / tp) * 4
    reserve = settings.runtime_overhead_gib * GIB + activations
    kv_per_token = 2 * llm.num_layers * kv_heads_per_gpu(llm, tp) * llm.head_dim * \
        llm.dtype_bytes
    free = budget - weights - reserve
    blocks = int(max(free, 0) // (kv_per_token * settings.block_size))
    capacity = blocks * settings.block_size
    where = f"{llm.id} at TP {tp} on {gpu.id} x {gpu_fraction:g}"
    if free <= 0:
        feasible = False
        reason = (f"{where}: weights {weights / GIB:.1f} GiB/GPU + reserve "
                  f"{reserve / GIB:.1f} GiB exceed the budget {budget / GIB:.1f} GiB "
                  f"({settings.memory_utilization:g} x {gpu_fraction:g} x "
                  f"{gpu.memory_gib:g} GiB); use a larger TP degree or GPU fraction")
    elif capacity < settings.min_kv_tokens:
        feasible = False
        reason = (f"{where}: the KV cache holds {capacity} tokens "
                  f"({free / GIB:.2f} GiB free / {kv_per_token} B per token), fewer than the "
                  f"{settings.min_kv_tokens} required; use a larger TP degree or GPU fraction")
    else:
        feasible, reason = True, ""
    return MemoryPlan(
        llm=llm.id, gpu=gpu.id, tp=tp, gpu_fraction=gpu_fraction,
        budget_gib_per_gpu=budget / GIB, weights_gib_per_gpu=weights / GIB,
        reserve_gib_per_gpu=reserve / GIB, kv_bytes_per_token_per_gpu=kv_per_token,
        kv_capacity_tokens=capacity, max_num_seqs_cap=settings.max_num_seqs,
        feasible=feasible, reason=reason,
    )
