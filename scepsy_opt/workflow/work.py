"""Call durations of sampled programs: the unloaded latency of each call on a reference GPU.

The analyze stage needs call durations to compute shares, parallelism and critical paths of
sampled programs. A call of ``P`` prompt tokens and ``O`` output tokens lasts what it would
alone on an instance of its llm on the *reference GPU* type (the cluster's GPU type unless
``analyze.work_estimate.reference_gpu`` names another) at the smallest tensor-parallel degree
whose memory holds the llm, by the calibrated roofline (:mod:`scepsy_opt.core.roofline`):

    duration = prefill(P) + sum over the decode steps of step(context = P + 1 .. P + O - 1)

(``O <= 1``: the prefill alone; scoring calls have ``O = 0``). For speed the prefill time and the
cumulative decode-step time are tabulated once per llm on log-spaced token grids and
interpolated. Recorded traces never use this estimate: they carry measured times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scepsy_opt.core.errors import ConfigError
from scepsy_opt.core.memory import MemorySettings, memory_plan
from scepsy_opt.core.roofline import Arch, Hardware, RooflineModel, roofline_params
from scepsy_opt.core.topology import tp_problem
from scepsy_opt.core.types import TP_DEGREES, GpuSpec, LlmSpec

GRID_POINTS = 64


@dataclass(frozen=True)
class WorkEstimateSettings:
    """``reference_gpu``: the GPU type call durations are estimated on (null in the config:
    the cluster's most common GPU type, filled in when the run's settings are built)."""

    reference_gpu: str | None = None


@dataclass(frozen=True, eq=False)
class LlmWorkModel:
    """Unloaded call latency of one llm at TP ``tp`` on ``gpu``, tabulated."""

    llm: str
    gpu: str
    tp: int
    tokens: np.ndarray = field(repr=False)
    prefill_ms: np.ndarray = field(repr=False)
    cumulative_decode_ms: np.ndarray = field(repr=False)

    def duration_s(self, input_tokens: np.ndarray, output_tokens: np.ndarray) -> np.ndarray:
        inp = np.maximum(np.asarray(input_tokens, dtype=np.float64), 1.0)
        out = np.asarray(output_tokens, dtype=np.float64)
        prefill = np.interp(inp, self.tokens, self.prefill_ms)
        last = inp + np.maximum(out - 1, 0.0)
        decode = np.interp(last, self.tokens, self.cumulative_decode_ms) - np.interp(
            inp, self.tokens, self.cumulative_decode_ms)
        return (prefill + decode) / 1e3


def reference_tp(llm: LlmSpec, gpu: GpuSpec, memory: MemorySettings) -> int:
    """Smallest TP degree that holds the llm on whole GPUs (the largest when none does)."""
    for tp in TP_DEGREES:
        if not tp_problem(llm, tp) and memory_plan(llm, gpu, tp, 1.0, memory).feasible:
            return tp
    return TP_DEGREES[-1]


def work_model(llm: LlmSpec, gpu: GpuSpec, memory: MemorySettings | None = None
               ) -> LlmWorkModel:
    memory = memory or MemorySettings()
    if gpu.id not in _calibrated():
        raise ConfigError("the reference GPU has no roofline calibration", source="config",
                          field="analyze.work_estimate.reference_gpu", value=gpu.id,
                          fix=f"use one of {', '.join(sorted(_calibrated()))}")
    tp = reference_tp(llm, gpu, memory)
    model = RooflineModel(Arch.of(llm), Hardware.of(gpu), roofline_params(gpu.id),
                          max_num_batched_tokens=memory.max_num_batched_tokens)
    tokens = np.unique(np.round(np.geomspace(1, 2 * llm.max_context_tokens, GRID_POINTS)))
    prefill = model.prefill_ms(tp, 1, tokens)
    steps = model.decode_step_ms(tp, 1, tokens)
    # cumulative sum of step(c) for c = 1..x, by the trapezoid rule between grid points
    cumulative = np.concatenate([[steps[0]], steps[0] + np.cumsum(
        np.diff(tokens) * (steps[1:] + steps[:-1]) / 2)])
    return LlmWorkModel(llm.id, gpu.id, tp, tokens, prefill, cumulative)


def _calibrated() -> frozenset[str]:
    from scepsy_opt.core.roofline import load_roofline_params

    return frozenset(load_roofline_params())
