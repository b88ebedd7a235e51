"""Token-based work estimate: how long a call of a sampled program runs before profiles exist.

The analyze stage needs call durations to compute shares, parallelism and critical paths of
sampled programs. Until the profile stage provides measured tables, a call's duration is the
unloaded (batch 1) latency of the llm on one *reference GPU* type, at the smallest tensor-parallel
degree whose weights fit in ``weight_fit_fraction`` of the GPUs' memory::

    prefill_s = 2 * parameters * input_tokens / (tp * peak_flops * mfu)
    decode_s  = output_tokens * (weight_bytes + kv_bytes_per_token * context) / (tp * bw * mbu)
        with context = input_tokens + output_tokens / 2 (the mean context of the decode steps)
    duration  = overhead_s + prefill_s + decode_s

``peak_flops`` (dense BF16) and ``bw`` (HBM bandwidth) come from the GPU spec; ``mfu`` (model
FLOP utilisation of prefill), ``mbu`` (memory bandwidth utilisation of decode) and the per-call
``overhead_s`` (scheduling, sampling, network) are settings (``analyze.work_estimate``). The
defaults (0.5, 0.7, 5 ms) are typical of vLLM on H100/A100 at batch 1. Prefill-only calls
(``output_tokens == 0``: rerankers, reward models) cost only prefill. Tensor-parallel
communication is ignored. Recorded traces never use this estimate: they carry measured times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scepsy_opt.types import TP_DEGREES, GpuSpec, LlmSpec


@dataclass(frozen=True)
class WorkEstimateSettings:
    reference_gpu: str
    mfu: float
    mbu: float
    overhead_s: float
    weight_fit_fraction: float


@dataclass(frozen=True)
class LlmWorkModel:
    """Per-llm coefficients of the work estimate on the reference GPU."""

    llm: str
    gpu: str
    tp: int
    overhead_s: float
    prefill_s_per_token: float
    decode_s_per_token: float
    decode_s_per_token_per_context_token: float

    def duration_s(self, input_tokens: np.ndarray, output_tokens: np.ndarray) -> np.ndarray:
        inp = np.asarray(input_tokens, dtype=np.float64)
        out = np.asarray(output_tokens, dtype=np.float64)
        context = inp + out / 2
        return (
            self.overhead_s
            + self.prefill_s_per_token * inp
            + out * (self.decode_s_per_token + self.decode_s_per_token_per_context_token * context)
        )


def reference_tp(llm: LlmSpec, gpu: GpuSpec, weight_fit_fraction: float) -> int:
    """Smallest TP degree whose per-GPU weights fit; the largest degree if none does."""
    for tp in TP_DEGREES:
        if llm.weight_bytes / tp <= weight_fit_fraction * gpu.memory_bytes:
            return tp
    return TP_DEGREES[-1]


def work_model(llm: LlmSpec, gpu: GpuSpec, settings: WorkEstimateSettings) -> LlmWorkModel:
    tp = reference_tp(llm, gpu, settings.weight_fit_fraction)
    flops = gpu.bf16_dense_tflops * 1e12 * settings.mfu * tp
    bandwidth = gpu.hbm_bandwidth_gb_s * 1e9 * settings.mbu * tp
    return LlmWorkModel(
        llm=llm.id,
        gpu=gpu.id,
        tp=tp,
        overhead_s=settings.overhead_s,
        prefill_s_per_token=2.0 * llm.parameters / flops,
        decode_s_per_token=llm.weight_bytes / bandwidth,
        decode_s_per_token_per_context_token=llm.kv_bytes_per_token / bandwidth,
    )
