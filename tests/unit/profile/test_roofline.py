import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scepsy_opt.core.memory import memory_plan
from scepsy_opt.core.roofline import (
    Arch,
    Hardware,
    RooflineModel,
    gemm_ms,
    load_roofline_params,
    roofline_params,
    topology_of,
)
from scepsy_opt.core.topology import tp_problem

GPUS = ("H100-SXM-80GB", "H200-141GB", "A100-SXM-80GB", "L40S-48GB")
LLMS = ("llama-3.1-8b-instruct", "qwen2.5-14b-instruct", "qwen2.5-32b-instruct",
        "llama-3.1-70b-instruct", "mistral-7b-instruct-v0.3", "llama-3.2-3b-instruct")


def model(catalog, llm, gpu):
    return RooflineModel(Arch.of(catalog.llms[llm]), Hardware.of(catalog.gpus[gpu]),
                         roofline_params(gpu))


def test_every_catalog_gpu_is_calibrated(catalog):
    params = load_roofline_params()
    assert set(params) == set(catalog.gpus)
    for p in params.values():
        assert 0 < p.gemm_compute_eff <= 1 and 0 < p.gemm_memory_eff <= 1
        assert p.source
        assert {a.num_gpus for a in p.allreduce} >= {2, 4}


def test_topologies(catalog):
    assert topology_of(catalog.gpus["H100-SXM-80GB"]) == "nvswitch"
    assert topology_of(catalog.gpus["A100-PCIe-80GB"]) == "nvlink_pairs"
    assert topology_of(catalog.gpus["L40S-48GB"]) == "pcie"


def test_gemm_limits_are_the_roofline(catalog):
    p = roofline_params("H100-SXM-80GB").as_mapping()
    hw = Hardware.of(catalog.gpus["H100-SXM-80GB"])
    # Huge square GEMM: compute-bound, time -> flops / (peak * efficiency).
    n = 16384.0
    compute = 2 * n**3 / (hw.peak_flops * p["gemm_compute_eff"]) * 1e3
    assert gemm_ms(n, n, n, p, hw) == pytest.approx(compute, rel=0.02)
    # One token through a large weight: bandwidth-bound, time -> bytes / (bw * efficiency).
    k, width = 8192.0, 28672.0
    memory = 2 * (k * width + k + width) / (hw.hbm_bytes_s * p["gemm_memory_eff"]) * 1e3
    overhead = p["gemm_overhead_us"] * 1e-3
    assert gemm_ms(1.0, k, width, p, hw) == pytest.approx(memory + overhead, rel=0.02)


def test_decode_of_an_8b_llm_on_h100_is_in_the_measured_range(catalog):
    # Public vLLM measurements of Llama-3.1-8B on one H100 report ~6-9 ms per output token at
    # batch 1 (bandwidth-bound: 16 GB of weights per step at ~3 TB/s plus engine overhead).
    step = float(model(catalog, "llama-3.1-8b-instruct", "H100-SXM-80GB")
                 .decode_step_ms(1, 1, 1024))
    assert 5.0 < step < 10.0


@st.composite
def configuration(draw):
    llm = draw(st.sampled_from(LLMS))
    gpu = draw(st.sampled_from(GPUS))
    tp = draw(st.sampled_from((1, 2, 4, 8)))
    return llm, gpu, tp


CHECKS = settings(max_examples=150, deadline=None)


@CHECKS
@given(configuration(), st.integers(1, 64), st.integers(1, 16_000), st.integers(1, 4000),
       st.integers(1, 32), st.floats(0.1, 1.0))
def test_more_work_is_never_faster(catalog, config, batch, tokens, more, more_batch, fraction):
    llm, gpu, tp = config
    m = model(catalog, llm, gpu)
    base = m.prefill_ms(tp, batch, tokens, fraction)
    assert m.prefill_ms(tp, batch, tokens + more, fraction) >= base
    assert m.prefill_ms(tp, batch + more_batch, tokens, fraction) >= base
    step = m.decode_step_ms(tp, batch, tokens, fraction)
    assert m.decode_step_ms(tp, batch, tokens + more, fraction) >= step
    assert m.decode_step_ms(tp, batch + more_batch, tokens, fraction) >= step


@CHECKS
@given(configuration(), st.integers(1, 64), st.integers(1, 16_000),
       st.floats(0.05, 1.0), st.floats(0.0, 0.95))
def test_a_larger_gpu_fraction_is_never_slower(catalog, config, batch, tokens, low, extra):
    llm, gpu, tp = config
    m = model(catalog, llm, gpu)
    high = min(1.0, low + extra)
    assert m.prefill_ms(tp, batch, tokens, high) <= m.prefill_ms(tp, batch, tokens, low)
    assert m.decode_step_ms(tp, batch, tokens, high) <= m.decode_step_ms(tp, batch, tokens, low)


@CHECKS
@given(st.sampled_from(("qwen2.5-14b-instruct", "qwen2.5-32b-instruct", "llama-3.1-70b-instruct",
                        "qwen2.5-72b-instruct", "llama-2-70b")),
       st.sampled_from(("H100-SXM-80GB", "H200-141GB", "A100-SXM-80GB", "A100-PCIe-80GB")),
       st.integers(1, 16), st.integers(2048, 16_000))
def test_tp2_prefill_of_a_large_llm_is_never_slower_per_step(catalog, llm, gpu, batch, tokens):
    m = model(catalog, llm, gpu)
    chunk = m.max_num_batched_tokens
    # one full prefill step of the same work at TP 1 and TP 2
    one = m.prefill_ms(1, 1, min(tokens, chunk))
    two = m.prefill_ms(2, 1, min(tokens, chunk))
    assert two <= one
    del batch


@CHECKS
@given(configuration(), st.integers(1, 64), st.integers(16, 4000), st.integers(2, 1000),
       st.integers(1, 500))
def test_batch_latency_is_consistent(catalog, config, batch, prompt, output, more):
    llm, gpu, tp = config
    spec = catalog.llms[llm]
    if tp_problem(spec, tp) or prompt + output + more > spec.max_context_tokens:
        return
    plan = memory_plan(spec, catalog.gpus[gpu], tp, 1.0)
    if not plan.feasible:
        return
    m = model(catalog, llm, gpu)
    run = min(batch, plan.running_sequences(prompt, output))
    ttft, tpot, e2e = m.batch_latency_ms(tp, batch, prompt, output, concurrency=run)
    assert 0 < ttft <= e2e and tpot > 0
    if run == batch:  # a single wave: prefill, then output - 1 decode steps
        assert e2e == pytest.approx(ttft + (output - 1) * tpot, rel=1e-9)
    _, _, longer = m.batch_latency_ms(tp, batch, prompt, output + more, concurrency=run)
    assert longer >= e2e


def test_vectorised_calls_match_scalar_calls(catalog):
    m = model(catalog, "qwen2.5-7b-instruct", "A100-SXM-80GB")
    batches = np.array([1, 8, 32])
    contexts = np.array([512, 2048, 8192])
    vector = m.decode_step_ms(2, batches, contexts, 0.5)
    scalar = [float(m.decode_step_ms(2, b, c, 0.5)) for b, c in zip(batches, contexts,
                                                                    strict=True)]
    assert vector.tolist() == pytest.approx(scalar)
