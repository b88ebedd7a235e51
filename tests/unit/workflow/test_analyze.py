import math

import numpy as np
import pytest

from scepsy_opt.core.trace import Call, read_jsonl, table_from_calls, write_jsonl
from scepsy_opt.testing import LinearDurations
from scepsy_opt.workflow.analyze import analyze_table, critical_predecessor
from scepsy_opt.workflow.program import parse_program
from scepsy_opt.workflow.sampler import sample_program


def call(llm, out, inp=10, **extra):
    return {"call": {"llm": llm, "input_tokens": inp, "output_tokens": out, **extra}}


def stats_of(raw, n=1, seed=0):
    table = sample_program(parse_program(raw, source="t"), n, seed=seed,
                           durations=LinearDurations(), source="t")
    return analyze_table(table, workflow="t", duration_model="linear"), table


def test_par_across_different_llms_hand_computed():
    # a:[0,2] -> ( b:[2,5] || c:[2,3] -> c:[3,4] ) -> a:[5,6]
    stats, _ = stats_of({"seq": [call("a", 2), {"par": [call("b", 3), {"seq": [
        call("c", 1), call("c", 1)]}]}, call("a", 1)]})
    a, b, c = stats.llm("a"), stats.llm("b"), stats.llm("c")
    assert (a.calls_per_request.mean, b.calls_per_request.mean, c.calls_per_request.mean) == (
        2, 1, 2)
    assert a.parallelism == b.parallelism == c.parallelism == 1
    # The critical path is a -> b -> a: c's two calls are off it, which n / p cannot see.
    assert (a.critical_path_weight, b.critical_path_weight, c.critical_path_weight) == (2, 1, 0)
    assert c.n_over_p == 2
    assert stats.e2e_latency_s.mean == 6
    assert (a.share, b.share, c.share) == pytest.approx((3 / 8, 3 / 8, 2 / 8))
    assert a.critical_path_time_share == pytest.approx(3 / 6)
    assert b.critical_path_time_share == pytest.approx(3 / 6)
    assert c.critical_path_time_share == 0


def test_fan_out_parallelism_and_weight():
    stats, _ = stats_of({"seq": [call("a", 1), {"par": {"count": 4, "body": call("b", 2)}},
                                 call("a", 1)]})
    b = stats.llm("b")
    assert b.calls_per_request.mean == 4
    assert b.parallelism == 4
    assert b.critical_path_weight == 1
    assert b.n_over_p == 1
    assert stats.e2e_latency_s.mean == 4


def test_overlapping_copies_of_unequal_length():
    # Four copies of b with 1..4 output tokens in parallel: busy 10 s over 4 s active.
    stats, _ = stats_of({"par": {"count": 4, "body": call(
        "b", {"dist": "empirical", "values": [1, 2, 3, 4], "probs": [0.25] * 4})}}, n=2000)
    b = stats.llm("b")
    expected_busy = 4 * 2.5
    assert b.busy_s_per_request == pytest.approx(expected_busy, rel=0.03)
    assert b.critical_path_weight == 1


def test_nested_loops():
    stats, _ = stats_of({"loop": {"count": 2, "body": {"seq": [
        {"loop": {"count": 3, "body": call("a", 1)}}, call("b", 2)]}}})
    a, b = stats.llm("a"), stats.llm("b")
    assert (a.calls_per_request.mean, b.calls_per_request.mean) == (6, 2)
    assert (a.critical_path_weight, b.critical_path_weight) == (6, 2)
    assert stats.e2e_latency_s.mean == 10
    assert a.share == pytest.approx(0.6)


def test_choice_frequencies_match_probabilities():
    n = 20_000
    stats, _ = stats_of({"seq": [call("a", 1), {"choice": [
        {"p": 0.25, "body": call("b", 1)}, {"p": 0.75, "body": call("c", 1)}]}]}, n=n, seed=5)
    sd = math.sqrt(0.25 * 0.75 / n)
    assert stats.llm("b").calls_per_request.mean == pytest.approx(0.25, abs=5 * sd)
    assert stats.llm("c").calls_per_request.mean == pytest.approx(0.75, abs=5 * sd)
    assert stats.llm("a").critical_path_weight == 1


def test_tools_count_on_the_critical_path_but_not_in_shares():
    stats, _ = stats_of({"seq": [call("a", 1), {"tool": {"name": "t", "latency_s": 3}},
                                 call("a", 1)]})
    assert stats.e2e_latency_s.mean == 5
    assert stats.tool_s_on_critical_path_per_request == 3
    assert stats.llm("a").share == 1
    assert stats.llm_busy_s_per_request == 2


def test_share_cv_and_token_summaries():
    stats, _ = stats_of({"seq": [call("a", {"dist": "uniform", "low": 1, "high": 9}),
                                 call("b", 5, inp=300)]}, n=5000, seed=1)
    a, b = stats.llm("a"), stats.llm("b")
    assert b.input_tokens.mean == 300 and b.input_tokens.p99 == 300
    assert b.output_tokens.p50 == 5
    assert a.output_tokens.min == 1 and a.output_tokens.max == 9
    # Per request the share of b is 5 / (5 + k), k uniform on 1..9: compute its CV directly.
    k = np.arange(1, 10)
    share = 5 / (5 + k)
    assert b.share_cv == pytest.approx(share.std() / share.mean(), rel=0.05)
    assert b.share == pytest.approx(5 / (5 + 5), abs=0.01)


def test_stats_survive_a_jsonl_round_trip(tmp_path):
    stats, table = stats_of({"seq": [call("a", 2), {"par": {"count": {
        "dist": "uniform", "low": 0, "high": 3}, "body": {"seq": [
            call("b", {"dist": "poisson", "mean": 3, "max": 9}),
            {"tool": {"name": "t", "latency_s": {"dist": "exponential", "mean": 1.0}}}]}}},
        call("a", 1)]}, n=300, seed=9)
    path = tmp_path / "t.jsonl"
    write_jsonl(table, path)
    again = analyze_table(read_jsonl(path), workflow="t", duration_model="linear")
    for x, y in zip(stats.llms, again.llms, strict=True):
        assert x.calls_per_request == y.calls_per_request
        assert x.critical_path_weight == pytest.approx(y.critical_path_weight)
        assert x.parallelism == pytest.approx(y.parallelism)
        assert x.share == pytest.approx(y.share)
    assert stats.e2e_latency_s.mean == pytest.approx(again.e2e_latency_s.mean)


def test_recorded_trace_with_gaps_and_ties():
    # b1 and b2 end together: the first listed parent is the critical one.
    calls = [
        Call("r", "x", "llm", 0.0, 1.0, (), "a", None, 10, 5),
        Call("r", "b1", "llm", 1.5, 3.0, ("x",), "b", None, 10, 5),
        Call("r", "b2", "llm", 1.2, 3.0, ("x",), "b", None, 10, 5),
        Call("r", "y", "llm", 3.5, 4.0, ("b2", "b1"), "a", None, 10, 5),
    ]
    table = table_from_calls(calls, "mem")
    assert critical_predecessor(table).tolist() == [-1, 0, 0, 2]
    stats = analyze_table(table, workflow="t", duration_model="recorded")
    assert stats.llm("b").critical_path_weight == 1
    assert stats.llm("b").parallelism == pytest.approx((1.5 + 1.8) / 1.8)
    assert stats.e2e_latency_s.mean == 4.0


def test_beam_search_program_spread_and_stability(catalog, compose):
    from scepsy_opt.workflow.stage import AnalyzeSettings, analyze_workflow

    _, settings = compose("beam_search")
    analysis, _ = analyze_workflow(settings.workflow, AnalyzeSettings(
        2000, 0, settings.analyze.work_estimate), catalog)
    stats = analysis.combined
    gen = stats.llm("qwen2.5-7b-instruct").calls_per_request
    assert gen.p99 / gen.p1 >= 20
    assert all(s.share_cv < stats.e2e_latency_s.cv for s in stats.llms)
    assert stats.shares_stable
