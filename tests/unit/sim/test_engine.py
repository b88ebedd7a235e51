"""The continuous-batching engine: against a per-iteration reference, and its physics."""

import dataclasses
from collections import deque

import numpy as np
import pytest

from scepsy_opt.core.memory import MemorySettings, memory_plan
from scepsy_opt.profile import predict_request
from scepsy_opt.sim.capacity import instance_capacity_rps
from scepsy_opt.sim.metrics import compute_metrics
from scepsy_opt.sim.plan import roofline_iteration_model
from scepsy_opt.sim.simulator import InstanceSpec, Simulation
from scepsy_opt.testing import LinearDurations
from scepsy_opt.workflow.program import parse_program
from scepsy_opt.workflow.sampler import sample_program


class AffineSteps:
    """Step time independent of context: event skipping must then be exact."""

    def step_ms(self, decode_seqs, decode_context, prefill_tokens, pairs, kv, sampled):
        return 2.0 + 0.5 * decode_seqs + 0.01 * prefill_tokens


def single_calls(n, seed, inp=(20, 400), out=(0, 60)):
    program = {"call": {"llm": "x",
                        "input_tokens": {"dist": "uniform", "low": inp[0], "high": inp[1]},
                        "output_tokens": {"dist": "uniform", "low": out[0], "high": out[1]}}}
    return sample_program(parse_program(program, source="t"), n, seed=seed,
                          durations=LinearDurations(), source="t")


def reference(arrivals, prompts, outputs, model, max_seqs, budget):
    """One instance iteration by iteration (no skipping): finish time of every call."""
    order = np.argsort(arrivals, kind="stable")
    pending = deque(order.tolist())
    waiting, prefilling, decoding = deque(), [], {}
    finished = np.full(len(arrivals), np.nan)
    t = 0.0
    while pending or waiting or prefilling or decoding:
        while pending and arrivals[pending[0]] <= t:
            waiting.append(pending.popleft())
        if not (waiting or prefilling or decoding):
            t = arrivals[pending[0]]
            continue
        n = len(decoding)
        left = budget - n
        chunks = []
        for entry in prefilling:
            if left <= 0:
                break
            size = min(prompts[entry[0]] - entry[1], left)
            chunks.append((entry, size))
            left -= size
        while waiting and left > 0 and n + len(prefilling) < max_seqs:
            entry = [waiting.popleft(), 0]
            prefilling.append(entry)
            size = min(prompts[entry[0]], left)
            chunks.append((entry, size))
            left -= size
        tokens = sum(size for _, size in chunks)
        t += model.step_ms(n, 0, tokens, 0, 0, 0) / 1e3
        for call in list(decoding):
            decoding[call] += 1
            if decoding[call] == outputs[call]:
                finished[call] = t
                del decoding[call]
        for entry, size in chunks:
            entry[1] += size
        for entry in [e for e in prefilling if e[1] == prompts[e[0]]]:
            prefilling.remove(entry)
            if outputs[entry[0]] <= 1:
                finished[entry[0]] = t
            else:
                decoding[entry[0]] = 1
    return finished


@pytest.mark.parametrize("rate, max_seqs, budget", [(20.0, 256, 8192), (80.0, 8, 512),
                                                     (200.0, 64, 256)])
def test_event_skipping_matches_iteration_by_iteration(rate, max_seqs, budget):
    table = single_calls(800, seed=3)
    arrivals = np.cumsum(np.random.default_rng(9).exponential(1 / rate, 800))
    spec = InstanceSpec("x", AffineSteps(), 10**9, max_seqs, budget)
    raw = Simulation(table, arrivals, np.zeros(800, dtype=int), [spec]).run()
    expected = reference(arrivals, table.input_tokens.tolist(), table.output_tokens.tolist(),
                         AffineSteps(), max_seqs, budget)
    assert np.allclose(raw.call_finished, expected, rtol=0, atol=1e-9)


def _roofline_instance(catalog, llm="llama-3.1-8b-instruct", gpu="H100-SXM-80GB"):
    memory = MemorySettings()
    spec, card = catalog.llms[llm], catalog.gpus[gpu]
    plan = memory_plan(spec, card, 1, 1.0, memory)
    model = roofline_iteration_model(spec, card, 1, 1.0, memory)
    return model, plan, InstanceSpec(llm, model, plan.kv_capacity_tokens, memory.max_num_seqs,
                                     memory.max_num_batched_tokens)


def test_low_load_latency_is_the_unloaded_prefill_plus_decode(catalog):
    _, _, spec = _roofline_instance(catalog)
    program = {"call": {"llm": "llama-3.1-8b-instruct", "input_tokens": 1000,
                        "output_tokens": 200}}
    table = sample_program(parse_program(program, source="t"), 50, seed=0,
                           durations=LinearDurations(), source="t")
    arrivals = np.arange(50) * 10.0  # far apart: every call runs alone
    raw = Simulation(table, arrivals, np.zeros(50, dtype=int), [spec]).run()
    latency = float(np.mean(raw.call_finished - raw.call_submitted))
    unloaded = predict_request("llama-3.1-8b-instruct", "H100-SXM-80GB", 1, 1, 1000, 200)
    assert latency * 1e3 == pytest.approx(unloaded.e2e_ms, rel=0.05)
    ttft = float(np.mean(raw.call_first_token - raw.call_submitted))
    assert ttft * 1e3 == pytest.approx(unloaded.ttft_ms, rel=0.05)


def test_throughput_rises_with_load_and_saturates_at_capacity(catalog):
    model, plan, spec = _roofline_instance(catalog)
    # varied output lengths: sequences finish at different iterations, the batch stays full
    program = {"call": {"llm": "llama-3.1-8b-instruct", "input_tokens": 512,
                        "output_tokens": {"dist": "uniform", "low": 32, "high": 224}}}
    capacity = instance_capacity_rps(model, plan.kv_capacity_tokens, 256, 8192, 512, 128)
    throughputs = []
    for rate in (0.25 * capacity, 0.5 * capacity, 1.5 * capacity, 3 * capacity):
        n = 3000
        table = sample_program(parse_program(program, source="t"), n, seed=1,
                               durations=LinearDurations(), source="t")
        arrivals = np.cumsum(np.random.default_rng(2).exponential(1 / rate, n))
        raw = Simulation(table, arrivals, np.zeros(n, dtype=int), [spec]).run()
        throughputs.append(compute_metrics(raw, rate).completed_throughput_rps)
    assert throughputs[0] < throughputs[1] < throughputs[2]
    assert throughputs[0] == pytest.approx(0.25 * capacity, rel=0.1)
    # saturated: the full batch of max_num_seqs sequences
    assert throughputs[2] == pytest.approx(capacity, rel=0.1)
    assert throughputs[3] == pytest.approx(capacity, rel=0.1)


def test_kv_cache_limits_admission_and_preempts(catalog):
    model, _, _ = _roofline_instance(catalog)
    table = single_calls(200, seed=5, inp=(400, 800), out=(200, 400))
    arrivals = np.zeros(200)  # all at once
    small = InstanceSpec("x", model, 4000, 256, 8192)  # a few sequences' worth of cache
    raw = Simulation(table, arrivals, np.zeros(200, dtype=int), [small]).run()
    assert np.isfinite(raw.call_finished).all()  # every call completes
    assert raw.preempted_calls > 0
    big = InstanceSpec("x", model, 10**7, 256, 8192)
    raw_big = Simulation(table, arrivals, np.zeros(200, dtype=int), [big]).run()
    assert raw_big.preempted_calls == 0
    assert raw_big.call_finished.max() < raw.call_finished.max()


def test_long_prompts_are_prefilled_in_chunks():
    table = single_calls(1, seed=0, inp=(1000, 1000), out=(0, 0))
    spec = InstanceSpec("x", AffineSteps(), 10**9, 256, 256)
    raw = Simulation(table, np.zeros(1), np.zeros(1, dtype=int), [spec]).run()
    # ceil(1000 / 256) = 4 iterations of 2 ms + 0.01 ms per token
    assert raw.call_finished[0] == pytest.approx((4 * 2.0 + 0.01 * 1000) / 1e3)
    assert raw.instance_iterations[0] == 4


def test_prompt_larger_than_the_cache_is_rejected_and_the_rest_runs():
    # call 0 needs 900 tokens of a 500-token cache: rejected at once; the others still run
    program = {"call": {"llm": "x", "input_tokens": {"dist": "uniform", "low": 100,
                                                     "high": 200}, "output_tokens": 10}}
    table = sample_program(parse_program(program, source="t"), 5, seed=0,
                           durations=LinearDurations(), source="t")
    inputs = table.input_tokens.copy()
    inputs[0] = 900
    table = dataclasses.replace(table, input_tokens=inputs)
    spec = InstanceSpec("x", AffineSteps(), 500, 256, 8192)
    raw = Simulation(table, np.zeros(5), np.zeros(5, dtype=int), [spec]).run()
    assert raw.rejected_calls == 1
    assert raw.call_finished[0] == 0.0  # ends unserved when it is looked at
    assert np.isfinite(raw.call_finished).all()
    assert compute_metrics(raw, 1.0).rejected_calls == 1


def test_admission_reserves_whole_prompts_and_keeps_a_watermark():
    # 4 prompts of 300 tokens, a 1000-token cache: 1% watermark = 10 tokens, so only 3 fit at
    # once (900 + 10 <= 1000); the fourth waits for a finish although the token budget has room
    program = {"call": {"llm": "x", "input_tokens": 300, "output_tokens": 2}}
    table = sample_program(parse_program(program, source="t"), 4, seed=0,
                           durations=LinearDurations(), source="t")
    spec = InstanceSpec("x", AffineSteps(), 1000, 256, 8192)
    raw = Simulation(table, np.zeros(4), np.zeros(4, dtype=int), [spec]).run()
    order = np.argsort(raw.call_scheduled)
    first_done = np.sort(raw.call_finished)[0]
    assert (raw.call_scheduled[order[:3]] < first_done).all()
    assert raw.call_scheduled[order[3]] >= first_done
    assert raw.preempted_calls == 0 and raw.rejected_calls == 0
