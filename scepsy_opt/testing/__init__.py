"""Seeded instance generators and simple duration models shared by tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LinearDurations:
    """Duration = ``overhead_s + input_s * input_tokens + output_s * output_tokens`` for every llm.

    With ``output_s=1`` and the rest 0, a call lasts exactly its output tokens in seconds, which
    makes hand-computed expectations easy.
    """

    output_s: float = 1.0
    input_s: float = 0.0
    overhead_s: float = 0.0

    def duration_s(self, llm: str, input_tokens: np.ndarray,
                   output_tokens: np.ndarray) -> np.ndarray:
        return (self.overhead_s + self.input_s * np.asarray(input_tokens, dtype=np.float64)
                + self.output_s * np.asarray(output_tokens, dtype=np.float64))


def random_program(rng: np.random.Generator, llms: tuple[str, ...], depth: int = 3
                   ) -> dict[str, Any]:
    """A random, valid program tree (YAML form) using every node kind.

    Leaves are calls of ``llms`` and tools; inner nodes are seq, par (branches and fan-out),
    choice and bounded loops, nested up to ``depth``.
    """
    def dist(low: int, high: int) -> Any:
        pick = rng.integers(3)
        if pick == 0:
            return int(rng.integers(low, high + 1))
        if pick == 1:
            return {"dist": "uniform", "low": low, "high": high}
        return {"dist": "lognormal", "mean": (low + high) / 2, "cv": 0.5, "min": low, "max": high}

    def leaf() -> dict[str, Any]:
        if rng.random() < 0.2:
            return {"tool": {"name": f"tool{int(rng.integers(3))}",
                             "latency_s": {"dist": "exponential", "mean": 0.5, "max": 5.0}}}
        call: dict[str, Any] = {
            "llm": str(rng.choice(llms)),
            "input_tokens": dist(16, 512),
            "output_tokens": dist(0, 64),
        }
        if rng.random() < 0.3:
            call["input_growth_tokens"] = int(rng.integers(1, 50))
        return {"call": call}

    def node(level: int) -> dict[str, Any]:
        if level >= depth or rng.random() < 0.3:
            return leaf()
        kind = rng.integers(6)
        width = int(rng.integers(1, 4))
        if kind == 0:
            return {"seq": [node(level + 1) for _ in range(width)]}
        if kind == 1:
            return {"par": [node(level + 1) for _ in range(width)]}
        if kind == 2:
            return {"par": {"count": dist(0, 4), "body": node(level + 1)}}
        if kind == 3:
            weights = rng.random(width) + 0.1
            probs = [float(w) for w in weights / weights.sum()]
            probs[-1] = 1.0 - sum(probs[:-1])
            return {"choice": [{"p": p, "body": node(level + 1)} for p in probs]}
        if kind == 4:
            return {"loop": {"count": dist(0, 4), "body": node(level + 1)}}
        return {"loop": {"continue_p": float(rng.uniform(0, 0.8)),
                         "min_iterations": int(rng.integers(0, 2)), "max_iterations": 5,
                         "body": node(level + 1)}}

    return node(0)
