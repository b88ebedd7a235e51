"""``predict_colocated``: instances sharing a GPU under MPS, against the published cases."""

import dataclasses
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.core.contention import StepParts, water_fill
from scepsy_opt.core.errors import CatalogError
from scepsy_opt.core.profile_table import ProfileError
from scepsy_opt.profile import (
    ColocatedInstance,
    ColocatedPrediction,
    predict_colocated,
    predict_request,
)

H100 = "H100-SXM-80GB"
LLAMA = "llama-3.1-8b-instruct"


def decoder(batch: int = 1, context: int = 1024, **kw) -> ColocatedInstance:
    fields = {"llm": LLAMA, "tp": 1, "gpu_fraction": 0.5, "phase": "decode",
              "batch_size": batch, "context_tokens": context, **kw}
    return ColocatedInstance(**fields)


@pytest.mark.parametrize("batch, context", [(1, 1024), (1, 4096), (8, 1024), (8, 2048)])
def test_two_busy_llama_decoders_at_half_an_h100_each_slow_down_1_35_to_1_9x(batch, context):
    both = predict_colocated(H100, [decoder(batch, context), decoder(batch, context)])
    assert all(isinstance(p, ColocatedPrediction) for p in both)
    for p in both:
        assert 1.35 <= p.together_ms / p.alone_ms <= 1.9
        assert p.slowdown == pytest.approx(p.together_ms / p.alone_ms)
    assert both[0] == both[1]


def test_alone_is_the_roofline_step_and_an_idle_neighbour_costs_nothing():
    alone, idle = predict_colocated(H100, [decoder(4, 1001), decoder(phase="idle")])
    assert alone.together_ms == alone.alone_ms
    assert alone.slowdown == 1.0
    assert idle.alone_ms == idle.together_ms == 0.0
    assert idle.bandwidth_used_gb_s == 0.0
    # predict_request's one decode step after a 1000-token prompt (context 1001)
    request = predict_request(LLAMA, H100, 1, 4, 1000, 2, gpu_fraction=0.5)
    assert alone.alone_ms == pytest.approx(request.tpot_ms, rel=1e-9)
    assert alone.host_ms + alone.compute_ms + alone.memory_ms == pytest.approx(alone.alone_ms)


def test_a_decoder_next_to_a_prefill_slows_down_less_than_1_25x():
    for prompt in (1024, 4096, 8192):
        dec, pre = predict_colocated(H100, [
            decoder(8, 2048), decoder(phase="prefill", batch_size=1, prompt_tokens=prompt)])
        assert 1.0 < dec.slowdown < 1.25
        assert 1.0 <= pre.slowdown < 1.25
        # the prefill is compute-bound: it demands a small part of the bandwidth
        assert pre.bandwidth_demand_gb_s < 0.25 * dec.bandwidth_demand_gb_s


def test_the_published_a100_two_qwen3_4b_case_within_15_percent():
    # Two Qwen3-4B vLLM instances at 50% MPS on one A100-40GB, one request each (2048 in,
    # 256 out): 13.2 ms per token against 8.58 ms on a dedicated GPU
    q = ColocatedInstance("qwen3-4b", 1, 0.5, "decode", batch_size=1, context_tokens=2176)
    shared = predict_colocated("A100-SXM-40GB", [q, q])[0]
    dedicated = predict_colocated("A100-SXM-40GB", [dataclasses.replace(q, gpu_fraction=1.0)])
    assert shared.together_ms == pytest.approx(13.2, rel=0.15)
    assert dedicated[0].alone_ms == pytest.approx(8.58, rel=0.15)


def test_mappings_are_accepted_and_bad_instances_refused():
    as_dict = predict_colocated(H100, [dataclasses.asdict(decoder())])
    assert as_dict == predict_colocated(H100, [decoder()])
    with pytest.raises(CatalogError, match="unknown GPU"):
        predict_colocated("B300", [decoder()])
    cases = [
        ([], "instances"),
        ([{"llm": LLAMA, "tp": 1, "gpu_fraction": 0.5}], "missing phase"),
        ([{**dataclasses.asdict(decoder()), "colour": 1}], "colour"),
        ([decoder(phase="train")], "instances[0].phase"),
        ([decoder(gpu_fraction=1.5)], "instances[0].gpu_fraction"),
        ([decoder(batch=0)], "instances[0].batch_size"),
        ([decoder(context=0)], "instances[0].context_tokens"),
        ([decoder(), decoder(tp=3)], "instances[1].tp"),
        ([decoder(batch=4096, context=100_000)], "instances[0].batch_size x context_tokens"),
    ]
    for instances, where in cases:
        with pytest.raises(ProfileError) as info:
            predict_colocated(H100, instances)
        assert where in str(info.value)
    with pytest.raises(CatalogError, match="unknown llm"):
        predict_colocated(H100, [decoder(llm="gpt-9")])


def test_water_filling_meets_small_demands_and_splits_the_rest():
    assert water_fill([0.2, 0.2], 1.0) == [0.2, 0.2]
    assert water_fill([0.1, 1.0, 1.0], 1.0) == pytest.approx([0.1, 0.45, 0.45])
    assert water_fill([0.9, 0.9], 1.0) == pytest.approx([0.5, 0.5])
    assert water_fill([], 1.0) == []


@st.composite
def neighbours(draw):
    catalog = load_catalog()
    llms = ["llama-3.1-8b-instruct", "qwen2.5-7b-instruct", "llama-3.2-3b-instruct",
            "qwen3-4b", "bge-reranker-v2-gemma"]
    count = draw(st.integers(1, 4))
    out = []
    for _ in range(count):
        llm = draw(st.sampled_from(llms))
        fraction = draw(st.sampled_from([0.3, 0.4, 0.5, 0.6, 0.7, 1.0]))
        phase = draw(st.sampled_from(["decode", "prefill", "idle"]))
        if catalog.llms[llm].task != "generate":
            phase = "prefill" if phase == "decode" else phase
        out.append(ColocatedInstance(
            llm, 1, fraction, phase, batch_size=draw(st.sampled_from([1, 2, 8, 32])),
            prompt_tokens=draw(st.sampled_from([16, 512, 2048])),
            context_tokens=draw(st.sampled_from([16, 256, 1024]))))
    return draw(st.sampled_from(["H100-SXM-80GB", "A100-SXM-80GB", "H200-141GB",
                                 "L40S-48GB"])), out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(neighbours())
def test_bandwidth_used_on_a_gpu_never_exceeds_its_bandwidth(case):
    gpu, instances = case
    spec = load_catalog().gpus[gpu].hbm_bandwidth_gb_s
    try:
        out = predict_colocated(gpu, instances)
    except ProfileError:
        return  # a configuration that does not fit its fraction's memory
    assert sum(p.bandwidth_granted_gb_s for p in out) <= spec * (1 + 1e-9)
    assert sum(p.bandwidth_used_gb_s for p in out) <= spec * (1 + 1e-9)
    for p in out:
        assert p.bandwidth_used_gb_s <= p.bandwidth_granted_gb_s * (1 + 1e-9) + 1e-9
        assert p.together_ms >= p.alone_ms * (1 - 1e-12)
    active = [p for p in out if p.phase != "idle"]
    if len(active) == 1:
        assert active[0].together_ms == pytest.approx(active[0].alone_ms)


@given(st.floats(0.0, 5.0), st.floats(0.0, 5.0), st.floats(0.01, 5.0),
       st.floats(0.05, 1.0), st.floats(0.01, 1.0))
def test_a_step_granted_less_than_its_demand_uses_at_most_what_it_was_granted(
        host, compute, memory, ceiling, fraction_of_demand):
    step = StepParts(host, compute, memory, ceiling, 0.5)
    granted = step.demand * fraction_of_demand
    together = step.together_ms(granted, kappa=0.0, neighbours=True, sm_load=0.5)
    assert together >= step.alone_ms - 1e-12
    assert step.used(together) <= granted * (1 + 1e-9)
    assert math.isclose(step.together_ms(step.demand, 0.0, True, 0.5), step.alone_ms)
