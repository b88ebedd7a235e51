"""Instances sharing GPUs in the simulator, against hand-computed timelines.

Every instance below runs steps of a fixed split (host, compute, memory-bound ms) whatever the
batch, so each timeline can be worked out by hand from the contention rule
(:mod:`scepsy_opt.core.contention`): the pool is one bandwidth share, so two instances that
each demand a whole share get half each, and a step whose bytes take 4 ms at a full share takes
8 ms at half of it.
"""

import dataclasses

import numpy as np
import pytest

from scepsy_opt.core.contention import ContentionParams, StepParts
from scepsy_opt.sim.simulator import InstanceSpec, Simulation
from scepsy_opt.testing import LinearDurations
from scepsy_opt.workflow.program import parse_program
from scepsy_opt.workflow.sampler import sample_program

POOL_1 = ContentionParams("test-gpu", pool_fraction=0.5, memory_eff=0.5, kappa=0.0)


@dataclasses.dataclass(frozen=True)
class FixedSteps:
    """Every step: ``host`` + ``compute`` + ``memory`` ms alone, bandwidth ceiling 1."""

    host: float
    compute: float
    memory: float
    fraction: float = 0.5

    def step_parts(self, *args) -> StepParts:
        return StepParts(self.host, self.compute, self.memory, 1.0, self.fraction)

    def step_ms(self, *args) -> float:
        return self.step_parts().alone_ms


def calls(outputs: dict[str, int]):
    """One request calling each llm in parallel, once, with a 10-token prompt."""
    program = {"par": [{"call": {"llm": llm, "input_tokens": 10, "output_tokens": out}}
                       for llm, out in outputs.items()]}
    return sample_program(parse_program(program, source="t"), 1, seed=0,
                          durations=LinearDurations(), source="t")


def finish_ms(outputs: dict[str, int], instances: list[InstanceSpec]) -> dict[str, float]:
    table = calls(outputs)
    raw = Simulation(table, np.zeros(1), np.zeros(1, dtype=int), instances).run()
    return {raw.llms[llm]: 1e3 * t for llm, t in zip(raw.call_llm, raw.call_finished,
                                                        strict=True)}


def spec(llm: str, model, gpus: tuple[str, ...], params=POOL_1) -> InstanceSpec:
    return InstanceSpec(llm, model, 10**6, 256, 8192, gpus=gpus, contention=params)


MEMORY_BOUND = FixedSteps(1.0, 0.0, 4.0)  # 5 ms alone, demands a whole share


def test_two_busy_instances_on_one_gpu_split_its_bandwidth():
    # 11 iterations each (a prefill, then 10 decode steps): alone 5 ms each, together
    # host 1 + bytes at half the bandwidth 8 = 9 ms each
    out = finish_ms({"x": 11, "y": 11}, [spec("x", MEMORY_BOUND, ("n:0",)),
                                         spec("y", MEMORY_BOUND, ("n:0",))])
    assert out == pytest.approx({"x": 99.0, "y": 99.0})


def test_on_separate_gpus_or_next_to_an_idle_neighbour_an_instance_runs_alone():
    apart = finish_ms({"x": 11, "y": 11}, [spec("x", MEMORY_BOUND, ("n:0",)),
                                           spec("y", MEMORY_BOUND, ("n:1",))])
    assert apart == pytest.approx({"x": 55.0, "y": 55.0})
    # y shares x's GPU but is never called
    idle = finish_ms({"x": 11}, [spec("x", MEMORY_BOUND, ("n:0",)),
                                 spec("y", MEMORY_BOUND, ("n:0",))])
    assert idle == pytest.approx({"x": 55.0})


def test_a_neighbour_going_idle_speeds_up_the_rest_of_a_phase():
    # both run 3 iterations together (27 ms); y is done; x has 8 of its 11 left, alone: 40 ms
    out = finish_ms({"x": 11, "y": 3}, [spec("x", MEMORY_BOUND, ("n:0",)),
                                        spec("y", MEMORY_BOUND, ("n:0",))])
    assert out == pytest.approx({"x": 67.0, "y": 27.0})


def test_the_neighbour_penalty_applies_only_while_a_neighbour_is_active():
    params = dataclasses.replace(POOL_1, kappa=0.1)
    # together: 1 + 8 x 1.1 = 9.8 ms for 3 iterations, then x alone at 5 ms for 8
    out = finish_ms({"x": 11, "y": 3}, [spec("x", MEMORY_BOUND, ("n:0",), params),
                                        spec("y", MEMORY_BOUND, ("n:0",), params)])
    assert out == pytest.approx({"x": 3 * 9.8 + 8 * 5.0, "y": 3 * 9.8})


def test_a_tp_group_runs_at_the_pace_of_its_most_contended_gpu():
    # z spans GPUs 0 and 1. On GPU 0 it shares with w (both demand a whole share: 9 ms);
    # on GPU 1 with v, which demands 0.1 of a share (1 + 3.6 + 0.4), so z gets 0.9 there:
    # 1 + 4 / 0.9 = 5.44 ms. z runs at 9 ms (GPU 0), w at 9 ms, v alone at 5 ms (its demand
    # is met).
    light = FixedSteps(1.0, 3.6, 0.4)
    out = finish_ms({"z": 11, "w": 11, "v": 11},
                    [spec("z", MEMORY_BOUND, ("n:0", "n:1")), spec("w", MEMORY_BOUND, ("n:0",)),
                     spec("v", light, ("n:1",))])
    assert out == pytest.approx({"z": 99.0, "w": 99.0, "v": 55.0})
    # with w idle, z's pace is set by GPU 1: 1 + 4 / 0.9 ms per step until v finishes at
    # 55 ms; the rest of its 11 steps alone at 5 ms
    out = finish_ms({"z": 11, "v": 11},
                    [spec("z", MEMORY_BOUND, ("n:0", "n:1")), spec("w", MEMORY_BOUND, ("n:0",)),
                     spec("v", light, ("n:1",))])
    assert out == pytest.approx({"z": 55.0 + (11 - 55.0 / (1 + 4 / 0.9)) * 5.0, "v": 55.0})


def test_oversubscribed_fractions_share_the_sms_too():
    # two compute-bound instances at f = 0.7 (sum 1.4): compute slows by 1.4 while both run
    compute_bound = FixedSteps(1.0, 4.0, 0.0, fraction=0.7)
    out = finish_ms({"x": 5, "y": 5}, [spec("x", compute_bound, ("n:0",)),
                                       spec("y", compute_bound, ("n:0",))])
    assert out == pytest.approx({"x": 5 * (1 + 4 * 1.4), "y": 5 * (1 + 4 * 1.4)})
    within = FixedSteps(1.0, 4.0, 0.0, fraction=0.5)
    out = finish_ms({"x": 5, "y": 5}, [spec("x", within, ("n:0",)),
                                       spec("y", within, ("n:0",))])
    assert out == pytest.approx({"x": 25.0, "y": 25.0})


def test_an_instance_sharing_a_gpu_needs_contention_parameters():
    with pytest.raises(ValueError, match="no contention parameters"):
        finish_ms({"x": 3, "y": 3},
                  [InstanceSpec(llm, MEMORY_BOUND, 10**6, 256, 8192, gpus=("n:0",))
                   for llm in ("x", "y")])
