"""The evaluator protocol: what scores allocations for the search.

An evaluator predicts, for a batch of allocations of the same llms at one request rate, the
workflow's throughput and mean end-to-end latency and each llm's stage terms. Allocations are
arrays ``tp, replicas, fraction`` of shape ``[B, L]`` (``L``: :attr:`Evaluator.llms`, in that
order). The fitted surrogate (:class:`scepsy_opt.surrogate.workflow.WorkflowSurrogate`,
jit-compiled and differentiable) implements it, and so does the simulator
(:class:`scepsy_opt.evaluate.simulated.SimulatedEvaluator`: every allocation run in the
discrete-event simulator at the rate); the search (:mod:`scepsy_opt.search`) and the
allocation space (:mod:`scepsy_opt.core.space`) see only this protocol, so either can score
the same allocation space.

``predict_batch`` returns at least ``throughput_rps [B]``, ``latency_s [B]``, ``rho [B, L]``
(each llm's utilisation at the rate), ``capacity_rps [B, L]`` (requests/s the llm's replicas
sustain), ``call_latency_s [B, L]`` and ``member_latency_s [B, M]``; ``terms_batch`` at least
``capacity_rps [B, L]``; ``breakdown`` of one allocation, per llm the mean time its calls add
to a request's critical path (``llm_s [L]``) and the tools' (``tool_s``), summing to the
latency.

``throughput_rps`` is the surrogate's highest throughput of the allocation; the simulator's is
the throughput it completes at the rate. So an evaluator that judges by itself whether an
allocation keeps up with the rate (the simulator, by its sustain rule) also returns
``sustains [B]`` (bool), which the allocation space then takes in place of its utilisation-cap
rule on ``rho`` and ``throughput_rps``. ``terms_batch`` may return more terms of its own model
(the surrogate's ``speed``, ``delay_base_s``, ``delay_pole_s``: what the exact search's
dominance pruning needs; without them it enumerates every option).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Evaluator(Protocol):
    """Scores allocations at a rate (see the module docstring for the arrays)."""

    @property
    def llms(self) -> tuple[str, ...]: ...

    @property
    def members(self) -> tuple[str, ...]: ...  # the workflows of a mix (one when not a mix)

    @property
    def calls_per_request(self) -> np.ndarray: ...  # [L] calls of each llm per request

    def predict(self, tp: Any, replicas: Any, fraction: Any, rate: float
                ) -> Mapping[str, Any]: ...  # one allocation: predict_batch without B

    def breakdown(self, tp: Any, replicas: Any, fraction: Any, rate: float
                  ) -> Mapping[str, Any]: ...  # llm_s [L] and tool_s: the latency's parts

    def predict_batch(self, tp: Any, replicas: Any, fraction: Any, rate: float
                      ) -> Mapping[str, Any]: ...

    def terms_batch(self, tp: Any, replicas: Any, fraction: Any, rate: float
                    ) -> Mapping[str, Any]: ...


@runtime_checkable
class GradientEvaluator(Evaluator, Protocol):
    """An evaluator that also gives the gradient of the latency with respect to the relaxed
    (continuous) TP degrees, replicas and fractions of one allocation."""

    def latency_grad(self, tp: Any, replicas: Any, fraction: Any, rate: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
