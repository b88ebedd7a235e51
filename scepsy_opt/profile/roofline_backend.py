"""The ``roofline`` profiler backend: profile tables from the calibrated analytical model.

For every (tp, gpu_fraction) of the grid it writes memory rows (one per context length of the
grid), and, when the configuration can hold the llm, prefill rows (batch x prompt tokens) and
decode rows (batch x context tokens). A configuration that cannot run (attention heads not
divisible by ``tp``, weights that do not fit, a KV cache below the minimum) gets infeasible
memory rows whose ``error`` states the numbers; a point beyond the KV capacity, the sequence cap
or the llm's context length is an infeasible row of its kind. Scoring and reward llms (prefill
only) get no decode rows. Everything is vectorised: a whole configuration is a handful of numpy
calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scepsy_opt import __version__
from scepsy_opt.core.memory import MemoryPlan, memory_plan
from scepsy_opt.core.profile_table import ProfileTable, table_from_columns
from scepsy_opt.core.profiling import ProfileRequest
from scepsy_opt.core.roofline import (
    PARAMS_FILE,
    Arch,
    Hardware,
    RooflineModel,
    RooflineParams,
    roofline_params,
)
from scepsy_opt.core.topology import tp_problem
from scepsy_opt.core.types import LlmSpec


@dataclass(frozen=True)
class RooflineBackend:
    """Analytical profiles; ``params`` overrides the calibrated parameters (tests, what-ifs)."""

    params: RooflineParams | None = None
    name: str = "roofline"

    def profile(self, request: ProfileRequest, *, previous: ProfileTable | None = None
                ) -> ProfileTable:
        """The full grid (the model is cheap: ``previous`` is not needed and is ignored)."""
        llm, gpu, grid, memory = request.llm, request.gpu, request.grid, request.memory
        params = self.params or roofline_params(gpu.id)
        model = RooflineModel(Arch.of(llm), Hardware.of(gpu), params,
                              max_num_batched_tokens=memory.max_num_batched_tokens)
        parts: list[dict[str, np.ndarray]] = []
        for tp, fraction in grid.configurations():
            problem = tp_problem(llm, tp)
            plan = memory_plan(llm, gpu, tp, fraction, memory)
            parts.append(_memory_rows(tp, fraction, plan, grid.memory_context_tokens, problem))
            if problem or not plan.feasible:
                continue
            parts.append(_prefill_rows(model, llm, tp, fraction, plan, grid.prefill_batch_sizes,
                                       grid.prefill_prompt_tokens))
            if llm.task == "generate":  # scoring and reward llms only prefill
                parts.append(_decode_rows(model, llm, tp, fraction, plan,
                                          grid.decode_batch_sizes, grid.decode_context_tokens))
        columns = {key: np.concatenate([p[key] for p in parts if key in p])
                   for key in {k for p in parts for k in p}}
        # Every part fills the same keys, so concatenation keeps rows aligned.
        env = {
            "backend": self.name,
            "scepsy_opt": __version__,
            "llm": llm.id,
            "gpu": gpu.id,
            "parameters": f"models/calibration/{PARAMS_FILE} ({params.source})",
            "method": "analytical roofline model (scepsy_opt.core.roofline); no spread",
            "memory": (f"utilization {memory.memory_utilization}, runtime overhead "
                       f"{memory.runtime_overhead_gib} GiB, max_num_batched_tokens "
                       f"{memory.max_num_batched_tokens}, max_num_seqs {memory.max_num_seqs}"),
        }
        return table_from_columns(llm.id, gpu.id, env, columns)


_KEYS = ("kind", "tp", "gpu_fraction", "status", "batch_size", "prompt_tokens",
         "context_tokens", "time_ms", "weights_gib_per_gpu", "kv_bytes_per_token_per_gpu",
         "kv_capacity_tokens", "max_num_seqs", "error")


def _rows(n: int, **values: Any) -> dict[str, np.ndarray]:
    """Columns of ``n`` rows; missing keys are empty (-1, NaN or "")."""
    out: dict[str, np.ndarray] = {}
    for key in _KEYS:
        value = values.get(key)
        if key in ("kind", "status", "error"):
            out[key] = np.broadcast_to(np.asarray("" if value is None else value, dtype=object),
                                       (n,)).copy()
        elif key in ("time_ms", "gpu_fraction", "weights_gib_per_gpu",
                     "kv_bytes_per_token_per_gpu"):
            out[key] = np.broadcast_to(np.asarray(np.nan if value is None else value,
                                                  dtype=np.float64), (n,)).copy()
        else:
            out[key] = np.broadcast_to(np.asarray(-1 if value is None else value,
                                                  dtype=np.int64), (n,)).copy()
    return out


def _memory_rows(tp: int, fraction: float, plan: MemoryPlan, contexts: tuple[int, ...],
                 problem: str) -> dict[str, np.ndarray]:
    n = len(contexts)
    reason = problem or plan.reason
    if reason:
        return _rows(n, kind="memory", tp=tp, gpu_fraction=fraction, status="infeasible",
                     context_tokens=np.array(contexts), error=reason,
                     weights_gib_per_gpu=plan.weights_gib_per_gpu)
    return _rows(n, kind="memory", tp=tp, gpu_fraction=fraction, status="ok",
                 context_tokens=np.array(contexts),
                 weights_gib_per_gpu=plan.weights_gib_per_gpu,
                 kv_bytes_per_token_per_gpu=plan.kv_bytes_per_token_per_gpu,
                 kv_capacity_tokens=plan.kv_capacity_tokens,
                 max_num_seqs=np.array([plan.max_num_seqs(c) for c in contexts]))


def _status(llm: LlmSpec, plan: MemoryPlan, batch: np.ndarray, tokens: np.ndarray,
            what: str) -> tuple[np.ndarray, np.ndarray]:
    """ok/infeasible per point, with the reason."""
    status = np.full(batch.shape, "ok", dtype=object)
    error = np.full(batch.shape, "", dtype=object)
    checks = (
        (tokens > llm.max_context_tokens,
         f"{what} beyond the llm's context of {llm.max_context_tokens} tokens"),
        (batch > plan.max_num_seqs_cap, f"batch beyond max_num_seqs {plan.max_num_seqs_cap}"),
        (batch * tokens > plan.kv_capacity_tokens,
         f"batch x {what} beyond the KV capacity of {plan.kv_capacity_tokens} tokens"),
    )
    for mask, reason in checks:
        fresh = mask & (status == "ok")
        status[fresh] = "infeasible"
        error[fresh] = reason
    return status, error


def _prefill_rows(model: RooflineModel, llm: LlmSpec, tp: int, fraction: float,
                  plan: MemoryPlan, batches: tuple[int, ...], prompts: tuple[int, ...]
                  ) -> dict[str, np.ndarray]:
    batch, prompt = (a.ravel() for a in np.meshgrid(np.array(batches), np.array(prompts),
                                                     indexing="ij"))
    status, error = _status(llm, plan, batch, prompt, "prompt")
    time = np.where(status == "ok", model.prefill_ms(tp, batch, prompt, fraction), np.nan)
    return _rows(batch.size, kind="prefill", tp=tp, gpu_fraction=fraction, status=status,
                 batch_size=batch, prompt_tokens=prompt, time_ms=time, error=error)


def _decode_rows(model: RooflineModel, llm: LlmSpec, tp: int, fraction: float,
                 plan: MemoryPlan, batches: tuple[int, ...], contexts: tuple[int, ...]
                 ) -> dict[str, np.ndarray]:
    batch, context = (a.ravel() for a in np.meshgrid(np.array(batches), np.array(contexts),
                                                      indexing="ij"))
    status, error = _status(llm, plan, batch, context, "context")
    time = np.where(status == "ok", model.decode_step_ms(tp, batch, context, fraction), np.nan)
    return _rows(batch.size, kind="decode", tp=tp, gpu_fraction=fraction, status=status,
                 batch_size=batch, context_tokens=context, time_ms=time, error=error)
