"""Requests follow their DAGs: fan-out and join, loops, choices and tools, on simulated engines."""

import numpy as np
import pytest

from scepsy_opt.sim.simulator import InstanceSpec, Simulation
from scepsy_opt.testing import LinearDurations
from scepsy_opt.workflow.program import parse_program
from scepsy_opt.workflow.sampler import sample_program


class PerToken:
    """A prefill of any size costs 10 ms; every decode iteration 1 ms (batch-independent)."""

    def step_ms(self, decode_seqs, decode_context, prefill_tokens, pairs, kv, sampled):
        return (10.0 if prefill_tokens else 0.0) + (1.0 if decode_seqs else 0.0)


def call(llm, out):
    return {"call": {"llm": llm, "input_tokens": 8, "output_tokens": out}}


def run(program, instances, n=1, arrivals=None):
    table = sample_program(parse_program(program, source="t"), n, seed=0,
                           durations=LinearDurations(), source="t")
    arrivals = np.zeros(n) if arrivals is None else arrivals
    specs = [InstanceSpec(llm, PerToken(), 10**9, 256, 8192) for llm in instances]
    return Simulation(table, arrivals, np.zeros(n, dtype=int), specs).run(), table


def test_sequence_fan_out_join_and_tool():
    # a: 10 ms prefill + 9 decode steps = 19 ms; fan-out of 3 b calls on 3 replicas run in
    # parallel (10 + 4 = 14 ms each); tool 0.5 s; final a call 19 ms
    program = {"seq": [call("a", 10), {"par": {"count": 3, "body": call("b", 5)}},
                       {"tool": {"name": "t", "latency_s": 0.5}}, call("a", 10)]}
    raw, _ = run(program, ["a", "b", "b", "b"])
    assert raw.request_done[0] == pytest.approx(0.019 + 0.014 + 0.5 + 0.019)


def test_fan_out_on_one_replica_batches():
    # three b calls on one instance: one prefill iteration for all three (10 ms + decode of
    # nobody), then 4 decode iterations of 1 ms together
    program = {"par": {"count": 3, "body": call("b", 5)}}
    raw, _ = run(program, ["b"])
    assert raw.request_done[0] == pytest.approx(0.010 + 0.004)
    assert raw.instance_iterations[0] == 5


def test_loops_and_parallel_branches_across_llms():
    program = {"loop": {"count": 2, "body": {"par": [call("a", 1), call("b", 21)]}}}
    raw, table = run(program, ["a", "b"])
    # each iteration waits for the slower branch: b = 10 + 20 = 30 ms
    assert raw.request_done[0] == pytest.approx(2 * 0.030)
    assert np.isfinite(raw.call_finished).all() and table.num_calls == 4


def test_choice_and_requests_arriving_later():
    program = {"choice": [{"p": 1.0, "body": call("a", 3)}, {"p": 0.0, "body": call("b", 3)}]}
    raw, _ = run(program, ["a", "b"], n=2, arrivals=np.array([0.0, 1.0]))
    assert raw.request_done.tolist() == pytest.approx([0.012, 1.012])


def test_round_robin_and_least_work_routing():
    program = {"par": {"count": 4, "body": call("a", 50)}}
    table = sample_program(parse_program(program, source="t"), 1, seed=0,
                           durations=LinearDurations(), source="t")
    for routing in ("round_robin", "least_work"):
        specs = [InstanceSpec("a", PerToken(), 10**9, 256, 8192) for _ in range(2)]
        raw = Simulation(table, np.zeros(1), np.zeros(1, dtype=int), specs,
                         routing=routing).run()
        # two calls per replica either way: both replicas work the same iterations
        assert raw.instance_iterations.tolist() == [50, 50]


def test_an_llm_without_instances_is_an_error():
    table = sample_program(parse_program(call("a", 1), source="t"), 1, seed=0,
                           durations=LinearDurations(), source="t")
    with pytest.raises(ValueError, match="no instance serves a"):
        Simulation(table, np.zeros(1), np.zeros(1, dtype=int),
                   [InstanceSpec("b", PerToken(), 10**9, 8, 8192)])
