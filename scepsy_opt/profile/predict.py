"""Predictions from the calibrated roofline: ``predict_request`` (latency of a batch of identical
requests) and ``predict_colocated`` (step times of instances sharing one GPU)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

from scepsy_opt.core.catalog import load_catalog, unknown
from scepsy_opt.core.contention import StepParts, contention_params, gpu_times, step_parts
from scepsy_opt.core.memory import MemorySettings, memory_plan
from scepsy_opt.core.profile_table import ProfileError
from scepsy_opt.core.roofline import Arch, Hardware, RooflineModel, roofline_params
from scepsy_opt.core.topology import tp_problem
from scepsy_opt.core.types import Catalog, LlmSpec


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
    _check_counts(source, (("batch_size", batch_size, 1), ("prompt_tokens", prompt_tokens, 1),
                           ("output_tokens", output_tokens, 1)))
    spec, plan = _check_config(source, "", llm, gpu, tp, gpu_fraction, prompt_tokens
                               + output_tokens, "prompt_tokens + output_tokens", catalog,
                               memory)
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


def _check_counts(source: str, values: Sequence[tuple[str, Any, int]]) -> None:
    for name, value, low in values:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ProfileError(f"must be an integer >= {low}", source=source, field=name,
                               value=value, fix=f"pass a whole number >= {low}")


def _check_config(source: str, where: str, llm: str, gpu: str, tp: int, gpu_fraction: float,
                  tokens: int, tokens_field: str, catalog: Catalog,
                  memory: MemorySettings) -> tuple[LlmSpec, Any]:
    """The llm, GPU, TP degree and fraction of a prediction, checked; (llm spec, memory plan)."""
    if gpu not in catalog.gpus:
        raise unknown("GPU", gpu, sorted(catalog.gpus), source=source, field="gpu")
    if llm not in catalog.llms:
        raise unknown("llm", llm, sorted(catalog.llms), source=source, field=f"{where}llm")
    _check_counts(source, ((f"{where}tp", tp, 1),))
    if not (isinstance(gpu_fraction, int | float) and not isinstance(gpu_fraction, bool)
            and math.isfinite(gpu_fraction) and 0 < gpu_fraction <= 1):
        raise ProfileError("must be in (0, 1]", source=source, field=f"{where}gpu_fraction",
                           value=gpu_fraction, fix="pass the share of one GPU, e.g. 0.5")
    spec = catalog.llms[llm]
    if tokens > spec.max_context_tokens:
        raise ProfileError("the request exceeds the llm's context", source=source,
                           field=f"{where}{tokens_field}", value=tokens,
                           fix=f"stay within {spec.max_context_tokens} tokens for {llm}")
    problem = tp_problem(spec, tp)
    if problem:
        raise ProfileError(problem, source=source, field=f"{where}tp", value=tp,
                           fix="choose a TP degree that divides the attention heads")
    plan = memory_plan(spec, catalog.gpus[gpu], tp, gpu_fraction, memory)
    if not plan.feasible:
        raise ProfileError(plan.reason, source=source, field=f"{where}tp, gpu_fraction",
                           value=(tp, gpu_fraction),
                           fix="use a larger TP degree or GPU fraction")
    return spec, plan


Phase = Literal["prefill", "decode", "idle"]
PHASES = get_args(Phase)


@dataclass(frozen=True)
class ColocatedInstance:
    """One instance sharing a GPU and what it runs: a ``decode`` step of ``batch_size``
    sequences with ``context_tokens`` of context each, the ``prefill`` of ``batch_size``
    prompts of ``prompt_tokens`` (chunked by ``max_num_batched_tokens``), or nothing
    (``idle``)."""

    llm: str
    tp: int
    gpu_fraction: float
    phase: Phase
    batch_size: int = 1
    prompt_tokens: int = 0
    context_tokens: int = 0


@dataclass(frozen=True)
class ColocatedPrediction:
    """One co-located instance's step: alone on the GPU and next to the others (ms), the
    slowdown, its split (host, compute, memory-bound ms alone) and the HBM bandwidth it
    demands, is granted and uses (GB/s) while its GPU work runs."""

    llm: str
    tp: int
    gpu_fraction: float
    phase: Phase
    alone_ms: float
    together_ms: float
    slowdown: float
    host_ms: float
    compute_ms: float
    memory_ms: float
    bandwidth_demand_gb_s: float
    bandwidth_granted_gb_s: float
    bandwidth_used_gb_s: float


def predict_colocated(gpu: str, instances: Sequence[ColocatedInstance | Mapping[str, Any]], *,
                      memory: MemorySettings | None = None,
                      catalog: Catalog | None = None) -> tuple[ColocatedPrediction, ...]:
    """Step times of instances sharing one GPU of type ``gpu`` under MPS, alone and together
    (the contention model of :mod:`scepsy_opt.core.contention`, with the GPU type's calibrated
    parameters). A TP instance's other GPUs are taken as free. Instances are
    :class:`ColocatedInstance` or mappings with its fields."""
    catalog = catalog or load_catalog()
    memory = memory or MemorySettings()
    source = "predict_colocated"
    if gpu not in catalog.gpus:
        raise unknown("GPU", gpu, sorted(catalog.gpus), source=source, field="gpu")
    if isinstance(instances, str | bytes | Mapping) or not isinstance(instances, Sequence) \
            or not instances:
        raise ProfileError("must be a non-empty list of instances", source=source,
                           field="instances", value=type(instances).__name__,
                           fix="pass e.g. [{'llm': ..., 'tp': 1, 'gpu_fraction': 0.5, "
                               "'phase': 'decode', 'batch_size': 8, 'context_tokens': 1024}]")
    parsed = [_instance(source, f"instances[{i}].", raw) for i, raw in enumerate(instances)]
    steps = [colocated_step(source, f"instances[{i}].", inst, gpu, catalog, memory)
             for i, inst in enumerate(parsed)]
    params = contention_params(gpu)
    times, granted = gpu_times(steps, params)
    spec_gb_s = catalog.gpus[gpu].hbm_bandwidth_gb_s

    def bandwidth(share: float) -> float:
        return params.gb_s(share, spec_gb_s)

    out = []
    for inst, step, together, share in zip(parsed, steps, times, granted, strict=True):
        alone = step.alone_ms if step is not None else 0.0
        out.append(ColocatedPrediction(
            llm=inst.llm, tp=inst.tp, gpu_fraction=float(inst.gpu_fraction), phase=inst.phase,
            alone_ms=alone, together_ms=together,
            slowdown=together / alone if alone > 0 else 1.0,
            host_ms=step.host_ms if step else 0.0, compute_ms=step.compute_ms if step else 0.0,
            memory_ms=step.memory_ms if step else 0.0,
            bandwidth_demand_gb_s=bandwidth(step.demand) if step else 0.0,
            bandwidth_granted_gb_s=bandwidth(share),
            bandwidth_used_gb_s=bandwidth(step.used(together)) if step else 0.0))
    return tuple(out)


def _instance(source: str, where: str, raw: ColocatedInstance | Mapping[str, Any]
              ) -> ColocatedInstance:
    if isinstance(raw, ColocatedInstance):
        return raw
    names = [f.name for f in fields(ColocatedInstance)]
    if not isinstance(raw, Mapping):
        raise ProfileError("must be a ColocatedInstance or a mapping", source=source,
                           field=where.rstrip("."), value=type(raw).__name__,
                           fix=f"give the fields {', '.join(names)}")
    extra = sorted(set(raw) - set(names))
    missing = [n for n in ("llm", "tp", "gpu_fraction", "phase") if n not in raw]
    if extra or missing:
        raise ProfileError("unknown or missing fields", source=source, field=where.rstrip("."),
                           value=", ".join(extra + [f"missing {m}" for m in missing]),
                           fix=f"give the fields {', '.join(names)}")
    return ColocatedInstance(**raw)


def colocated_step(source: str, where: str, inst: ColocatedInstance, gpu: str,
                   catalog: Catalog, memory: MemorySettings) -> StepParts | None:
    """``inst``'s step alone on a GPU of type ``gpu``, split for contention (``None``: idle),
    checked; errors name ``where`` + the field."""
    if inst.phase not in PHASES:
        raise ProfileError(f"must be one of {', '.join(PHASES)}", source=source,
                           field=f"{where}phase", value=inst.phase,
                           fix="prefill (a prompt batch), decode (one step) or idle")
    tokens_field = "prompt_tokens" if inst.phase == "prefill" else "context_tokens"
    tokens = getattr(inst, tokens_field)
    if inst.phase != "idle":
        _check_counts(source, ((f"{where}batch_size", inst.batch_size, 1),
                               (f"{where}{tokens_field}", tokens, 1)))
    spec, plan = _check_config(source, where, inst.llm, gpu, inst.tp, inst.gpu_fraction,
                               tokens, tokens_field, catalog, memory)
    if inst.phase == "idle":
        return None
    if inst.phase == "decode" and inst.batch_size * tokens > plan.kv_capacity_tokens:
        raise ProfileError("the batch's context does not fit the KV cache", source=source,
                           field=f"{where}batch_size x context_tokens",
                           value=inst.batch_size * tokens,
                           fix=f"at most {plan.kv_capacity_tokens} tokens at this TP degree "
                               "and fraction")
    model = RooflineModel(Arch.of(spec), Hardware.of(catalog.gpus[gpu]), roofline_params(gpu),
                          max_num_batched_tokens=memory.max_num_batched_tokens)
    fraction = float(inst.gpu_fraction)
    if inst.phase == "decode":
        def time_ms(**scales: float) -> float:
            return float(model.decode_step_ms(inst.tp, inst.batch_size, tokens, fraction,
                                              **scales))
    else:
        def time_ms(**scales: float) -> float:
            return float(model.prefill_ms(inst.tp, inst.batch_size, tokens, fraction,
                                          **scales))
    return step_parts(time_ms, model.bandwidth_ceiling(fraction), fraction)
