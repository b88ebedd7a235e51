"""The profiler backend protocol, the measurement grid and the call mix of load curves.

A backend turns (llm, GPU type, grid) into a :class:`~scepsy_opt.core.profile_table.ProfileTable`.
Backends: ``roofline`` (analytical, calibrated; the default), ``vllm`` (real measurement with
vLLM's engine and dummy weights) and ``import`` (``vllm bench`` JSON results). Imports of vllm and
torch happen only inside the vllm backend's functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.profile_table import ProfileTable
from scepsy_opt.core.types import GpuSpec, LlmSpec


@dataclass(frozen=True)
class ProfileGrid:
    """The points a profile covers, for every (tp, gpu_fraction) configuration."""

    tp_degrees: tuple[int, ...] = (1, 2, 4, 8)
    gpu_fractions: tuple[float, ...] = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)
    prefill_batch_sizes: tuple[int, ...] = (1, 4, 16)
    prefill_prompt_tokens: tuple[int, ...] = (128, 512, 2048, 8192)
    decode_batch_sizes: tuple[int, ...] = (1, 8, 32, 128, 256)
    decode_context_tokens: tuple[int, ...] = (512, 2048, 8192)
    memory_context_tokens: tuple[int, ...] = (512, 2048, 8192)

    def configurations(self) -> list[tuple[int, float]]:
        return [(tp, f) for tp in self.tp_degrees for f in self.gpu_fractions]


@dataclass(frozen=True)
class CallMix:
    """Calls representative of an llm's load: (input, output) token pairs to replay."""

    input_tokens: tuple[int, ...]
    output_tokens: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.input_tokens) != len(self.output_tokens) or not self.input_tokens:
            raise ValueError("a call mix needs as many input as output token counts, >= 1")

    @staticmethod
    def sample(inputs: Sequence[int], outputs: Sequence[int], size: int, seed: int) -> CallMix:
        """``size`` calls drawn (with replacement, pairs kept together) from observed calls."""
        rng = np.random.default_rng(seed)
        pick = rng.integers(0, len(inputs), size=size)
        return CallMix(tuple(int(inputs[i]) for i in pick), tuple(int(outputs[i]) for i in pick))


@dataclass(frozen=True)
class ProfileRequest:
    """What to profile: one llm on one GPU type over a grid."""

    llm: LlmSpec
    gpu: GpuSpec
    grid: ProfileGrid
    memory: MemorySettings = MemorySettings()
    call_mix: CallMix | None = None


class ProfilerBackend(Protocol):
    """Produces the profile table of one request.

    ``previous`` is an earlier (possibly partial) table of the same llm and GPU: a backend that
    measures skips the points it already holds (resumable sweeps).
    """

    name: str

    def profile(self, request: ProfileRequest, *, previous: ProfileTable | None = None
                ) -> ProfileTable: ...
