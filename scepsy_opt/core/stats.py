"""Workflow statistics, the analyze stage's typed result: per llm calls per request,
parallelism, critical-path weight, token distributions and share, and their summaries."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Summary:
    """Distribution summary of a sample (population std; ``cv = std / mean``)."""

    mean: float
    std: float
    cv: float
    min: float
    p1: float
    p50: float
    p90: float
    p99: float
    max: float

    @staticmethod
    def of(values: np.ndarray) -> Summary:
        values = np.asarray(values, dtype=np.float64)
        if values.size == 0:
            nan = math.nan
            return Summary(nan, nan, nan, nan, nan, nan, nan, nan, nan)
        mean = float(values.mean())
        std = float(values.std())
        p1, p50, p90, p99 = (float(x) for x in np.percentile(values, [1, 50, 90, 99]))
        return Summary(
            mean=mean, std=std, cv=std / mean if mean > 0 else math.nan,
            min=float(values.min()), p1=p1, p50=p50, p90=p90, p99=p99, max=float(values.max()),
        )


@dataclass(frozen=True)
class LlmStats:
    llm: str
    calls_per_request: Summary
    parallelism: float
    critical_path_weight: float
    n_over_p: float
    critical_path_time_share: float
    input_tokens: Summary
    output_tokens: Summary
    call_duration_s: Summary
    busy_s_per_request: float
    share: float
    share_cv: float


@dataclass(frozen=True)
class WorkflowStats:
    """Statistics of one workflow (one program or one set of traces)."""

    workflow: str
    source: str
    duration_model: str
    num_requests: int
    num_calls: int
    e2e_latency_s: Summary
    llm_busy_s_per_request: float
    tool_s_on_critical_path_per_request: float
    max_share_cv: float
    weighted_share_cv: float
    shares_stable: bool
    llms: tuple[LlmStats, ...]

    def llm(self, llm_id: str) -> LlmStats:
        for stats in self.llms:
            if stats.llm == llm_id:
                return stats
        raise KeyError(llm_id)
