"""``predict_request``: latency of a batch of identical requests from the calibrated roofline."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scepsy_opt.core.catalog import load_catalog, unknown
from scepsy_opt.core.memory import MemorySettings, memory_plan
from scepsy_opt.core.profile_table import ProfileError
from scepsy_opt.core.roofline import Arch, Hardware, RooflineModel, roofline_params
from scepsy_opt.core.topology import tp_problem
from scepsy_opt.core.types import Catalog


@dataclass(frozen=True)
class RequestPrediction:
    """Predicted latency of ``batch_size`` identical requests submitted together.

    ``ttft_ms`` and ``tpot_ms`` are those of the requests that start at once (at most
    ``running_sequences`` fit the KV cache together); ``e2e_ms`` is the time until the whole
    batch has finished, later waves included.
    """

    llm: str
    gpu: str
    tp: int
    gpu_fraction: float
    batch_size: int
    prompt_tokens: int
    output_tokens: int
    ttft_ms: float
    tpot_ms: float
    e2e_ms: float
    running_sequences: int
    kv_capacity_tokens: int


def predict_request(llm: str, gpu: str, tp: int, batch_size: int, prompt_tokens: int,
                    output_tokens: int, gpu_fraction: float = 1.0, *,
                    memory: MemorySettings | None = None,
                    catalog: Catalog | None = None) -> RequestPrediction:
    """Predict TTFT, TPOT and end-to-end latency with the default calibrated roofline.

    ``llm`` and ``gpu`` are catalog ids. A configuration that cannot hold the llm (weights or
    KV cache do not fit, heads not divisible by ``tp``) raises :class:`ProfileError` with the
    numbers.
    """
    catalog = catalog or load_catalog()
    memory = memory or MemorySettings()
    source = "predict_request"
    if llm not in catalog.llms:
        raise unknown("llm", llm, sorted(catalog.llms), source=source, field="llm")
    if gpu not in catalog.gpus:
        raise unknown("GPU", gpu, sorted(catalog.gpus), source=source, field="gpu")
    for name, value, low in (("tp", tp, 1), ("batch_size", batch_size, 1),
                             ("prompt_tokens", prompt_tokens, 1),
                             ("output_tokens", output_tokens, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ProfileError(f"must be an integer >= {low}", source=source, field=name,
                               value=value, fix=f"pass a whole number >= {low}")
    if not (isinstance(gpu_fraction, int | float) and math.isfinite(gpu_fraction)
            and 0 < gpu_fraction <= 1):
        raise ProfileError("must be in (0, 1]", source=source, field="gpu_fraction",
                           value=gpu_fraction, fix="pass the share of one GPU, e.g. 0.5")
    spec = catalog.llms[llm]
    if prompt_tokens + output_tokens > spec.max_context_tokens:
        raise ProfileError("the request exceeds the llm's context", source=source,
                           field="prompt_tokens + output_tokens",
                           value=prompt_tokens + output_tokens,
                           fix=f"stay within {spec.max_context_tokens} tokens for {llm}")
    problem = tp_problem(spec, tp)
    if problem:
        raise ProfileError(problem, source=source, field="tp", value=tp,
                           fix="choose a TP degree that divides the attention heads")
    plan = memory_plan(spec, catalog.gpus[gpu], tp, gpu_fraction, memory)
    if not plan.feasible:
        raise ProfileError(plan.reason, source=source, field="tp, gpu_fraction",
                           value=(tp, gpu_fraction),
                           fix="use a larger TP degree or GPU fraction")
    running = min(batch_size, plan.running_sequences(prompt_tokens, output_tokens))
    model = RooflineModel(Arch.of(spec), Hardware.of(catalog.gpus[gpu]), roofline_params(gpu),
                          max_num_batched_tokens=memory.max_num_batched_tokens)
    ttft, tpot, e2e = model.batch_latency_ms(tp, batch_size, prompt_tokens, output_tokens,
                                             concurrency=running, gpu_fraction=gpu_fraction)
    return RequestPrediction(
        llm=llm, gpu=gpu, tp=tp, gpu_fraction=float(gpu_fraction), batch_size=batch_size,
        prompt_tokens=prompt_tokens, output_tokens=output_tokens, ttft_ms=float(ttft),
        tpot_ms=float(tpot), e2e_ms=float(e2e), running_sequences=running,
        kv_capacity_tokens=plan.kv_capacity_tokens)
