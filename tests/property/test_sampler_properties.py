"""Properties every sampled program must satisfy, on random programs (hypothesis)."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scepsy_opt.core.trace import KIND_LLM, read_jsonl, write_jsonl
from scepsy_opt.testing import LinearDurations, random_program
from scepsy_opt.workflow.analyze import analyze_table
from scepsy_opt.workflow.program import parse_program
from scepsy_opt.workflow.sampler import sample_program

LLMS = ("a", "b", "c")
# Fractional per-token costs make call durations distinct, so critical paths have no ties.
DURATIONS = LinearDurations(output_s=0.0137, input_s=0.00071, overhead_s=0.003)

count = st.one_of(st.integers(0, 3), st.builds(lambda lo, w: {"dist": "uniform", "low": lo,
                                                               "high": lo + w},
                                                st.integers(0, 2), st.integers(0, 2)))
tokens = st.one_of(st.integers(0, 200), st.builds(
    lambda m: {"dist": "lognormal", "mean": m, "cv": 0.5, "max": 4 * m}, st.integers(5, 200)))
leaf = st.one_of(
    st.builds(lambda llm, i, o, g: {"call": {"llm": llm, "input_tokens": i, "output_tokens": o,
                                             "input_growth_tokens": g}},
              st.sampled_from(LLMS), tokens, tokens, st.integers(0, 30)),
    st.builds(lambda m: {"tool": {"name": "t", "latency_s": {"dist": "exponential", "mean": m,
                                                             "max": 10 * m}}},
              st.floats(0.01, 2.0)),
)


def _choice(children, weights):
    weights = weights[: len(children)]
    probs = [w / sum(weights) for w in weights]
    probs[-1] = 1.0 - sum(probs[:-1])
    return {"choice": [{"p": p, "body": c} for p, c in zip(probs, children, strict=True)]}


programs = st.recursive(leaf, lambda inner: st.one_of(
    st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"seq": xs}),
    st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"par": xs}),
    st.builds(lambda n, body: {"par": {"count": n, "body": body}}, count, inner),
    st.builds(lambda n, body: {"loop": {"count": n, "body": body}}, count, inner),
    st.builds(lambda p, body: {"loop": {"continue_p": p, "max_iterations": 4, "body": body}},
              st.floats(0.0, 0.8), inner),
    st.builds(_choice, st.lists(inner, min_size=2, max_size=3),
              st.lists(st.floats(0.1, 1.0), min_size=3, max_size=3)),
), max_leaves=8)

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _sample(raw, n, seed):
    return sample_program(parse_program(raw, source="p"), n, seed=seed, durations=DURATIONS,
                          source="p")


def _parents(table, row):
    return table.parent_idx[table.parent_ptr[row]:table.parent_ptr[row + 1]]


def _longest_path(table, request):
    """Longest path through one request's DAG by dynamic programming (rows are topological)."""
    finish = {}
    for row in np.flatnonzero(table.request == request):
        ready = max((finish[p] for p in _parents(table, row)), default=0.0)
        finish[row] = ready + table.duration_s[row]
    return max(finish.values(), default=0.0)


@SETTINGS
@given(raw=programs, seed=st.integers(0, 2**16))
def test_calls_start_when_their_parents_end(raw, seed):
    table = _sample(raw, 12, seed)
    for row in range(table.num_calls):
        parents = _parents(table, row)
        assert (parents < row).all()
        assert (table.request[parents] == table.request[row]).all()
        expected = table.end_s[parents].max() if parents.size else 0.0
        assert table.start_s[row] == expected
    assert (table.end_s >= table.start_s).all()


JOIN = {"seq": [{"par": [
    {"call": {"llm": "a", "input_tokens": 10, "output_tokens": 90}},
    {"seq": [{"call": {"llm": "b", "input_tokens": 10, "output_tokens": 5}},
             {"tool": {"name": "t", "latency_s": 0.2}}]}]},
    {"call": {"llm": "c", "input_tokens": 10, "output_tokens": 1}}]}


@SETTINGS
@given(raw=programs, seed=st.integers(0, 2**16))
@example(raw=JOIN, seed=0)
def test_statistics_are_consistent_with_the_dag(raw, seed):
    table = _sample(raw, 1, seed)
    if not (table.kind == KIND_LLM).any():
        return
    stats = analyze_table(table, workflow="p", duration_model="linear")
    latency = stats.e2e_latency_s.mean
    assert latency == pytest.approx(_longest_path(table, 0), abs=1e-9)
    # The critical path covers the whole latency: llm calls on it plus tools on it.
    on_path = sum(s.critical_path_time_share for s in stats.llms) * latency
    assert on_path + stats.tool_s_on_critical_path_per_request == pytest.approx(latency,
                                                                                abs=1e-9)
    for s in stats.llms:
        index = table.llms.index(s.llm)
        assert s.calls_per_request.mean == (table.llm == index).sum()
        assert s.critical_path_weight <= s.calls_per_request.mean
        assert s.parallelism >= 1 - 1e-12 or math.isnan(s.parallelism)
    assert sum(s.share for s in stats.llms) == pytest.approx(1.0)


@SETTINGS
@given(raw=programs, seed=st.integers(0, 2**16))
def test_jsonl_round_trip_and_determinism(raw, seed, tmp_path_factory):
    table = _sample(raw, 8, seed)
    again = _sample(raw, 8, seed)
    for column in ("request", "llm", "kind", "start_s", "end_s", "input_tokens",
                   "output_tokens", "parent_ptr", "parent_idx"):
        assert np.array_equal(getattr(table, column), getattr(again, column))
    if table.num_calls == 0:
        return
    path = tmp_path_factory.mktemp("rt") / "t.jsonl"
    write_jsonl(table, path)
    loaded = read_jsonl(path)
    assert loaded.num_calls == table.num_calls
    assert sorted(loaded.duration_s.tolist()) == pytest.approx(sorted(table.duration_s.tolist()))


def test_shipped_generator_programs_parse_and_sample():
    rng = np.random.default_rng(11)
    for _ in range(30):
        table = _sample(random_program(rng, LLMS), 20, int(rng.integers(1000)))
        assert table.num_requests == 20
