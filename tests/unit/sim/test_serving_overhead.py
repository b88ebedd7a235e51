"""The per-call serving overhead (HTTP, router, client): the simulator and the surrogate add it
to every llm call, and a cluster file sets it."""

import dataclasses

import numpy as np
import pytest

from scepsy_opt.core.catalog import expand_cluster
from scepsy_opt.core.errors import ConfigError
from scepsy_opt.sim.simulator import InstanceSpec, Simulation
from scepsy_opt.testing import LinearDurations, synthetic_surrogate
from scepsy_opt.workflow.program import parse_program
from scepsy_opt.workflow.sampler import sample_program


class FiveMsSteps:
    def step_ms(self, *args):
        return 5.0


CHAIN = {"seq": [{"call": {"llm": "x", "input_tokens": 10, "output_tokens": 3}},
                 {"tool": {"name": "t", "latency_s": 0.1}},
                 {"call": {"llm": "x", "input_tokens": 10, "output_tokens": 2}}]}


def run(overhead_s: float):
    table = sample_program(parse_program(CHAIN, source="t"), 1, seed=0,
                           durations=LinearDurations(), source="t")
    spec = InstanceSpec("x", FiveMsSteps(), 10**6, 256, 8192)
    return Simulation(table, np.zeros(1), np.zeros(1, dtype=int), [spec],
                      call_overhead_s=overhead_s).run()


def test_every_call_of_a_chain_pays_the_overhead_once():
    # 3 iterations (15 ms), the tool (100 ms), 2 iterations (10 ms): 125 ms; two calls
    plain, slow = run(0.0), run(0.04)
    assert plain.request_done[0] == pytest.approx(0.125)
    assert slow.request_done[0] == pytest.approx(0.125 + 2 * 0.04)
    llm_rows = plain.call_llm >= 0
    # the second call reaches the engine after the first call's response and the tool
    assert np.nanmax(slow.call_submitted[llm_rows]) == pytest.approx(0.015 + 0.04 + 0.1)
    assert slow.instance_busy_s[0] == pytest.approx(plain.instance_busy_s[0])


def test_the_surrogate_adds_the_overhead_to_every_call_on_the_path():
    chain = {"seq": [{"call": {"llm": llm, "input_tokens": 200, "output_tokens": 20}}
                     for llm in ("a", "b", "a")]}
    surrogate, _ = synthetic_surrogate(np.random.default_rng(3), ("a", "b"), program=chain)
    slow = dataclasses.replace(surrogate, call_overhead_s=0.05)
    tp, replicas, fraction = np.ones(2), np.full(2, 2.0), np.ones(2)
    base = surrogate.predict(tp, replicas, fraction, rate=0.1)
    more = slow.predict(tp, replicas, fraction, rate=0.1)
    assert float(more["latency_s"] - base["latency_s"]) == pytest.approx(3 * 0.05, rel=1e-9)
    assert np.allclose(more["throughput_rps"], base["throughput_rps"])
    assert np.allclose(more["call_latency_s"] - base["call_latency_s"], 0.05)


def cluster(**extra):
    return {"name": "c", "node_groups": [{"name": "g", "count": 1, "gpu": "H100-SXM-80GB",
                                          "gpus_per_node": 8, "nodes_per_rack": 4,
                                          "network_gb_s": 400, "nvlink_domain_size": 8}],
            **extra}


def test_a_cluster_file_sets_the_overhead_and_bad_values_are_refused(catalog):
    assert expand_cluster(cluster(), catalog, source="c.yaml").serving_overhead_ms == 0.0
    assert expand_cluster(cluster(serving_overhead_ms=12), catalog,
                          source="c.yaml").serving_overhead_ms == 12.0
    for bad in (-1, float("nan"), 1e9, "5ms", True):
        with pytest.raises(ConfigError, match="serving_overhead_ms"):
            expand_cluster(cluster(serving_overhead_ms=bad), catalog, source="c.yaml")
