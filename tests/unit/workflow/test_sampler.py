import math

import numpy as np
import pytest

from scepsy_opt.core.errors import AnalyzeError, WorkflowError
from scepsy_opt.core.trace import KIND_LLM
from scepsy_opt.testing import LinearDurations
from scepsy_opt.workflow.analyze import analyze_table
from scepsy_opt.workflow.program import parse_program
from scepsy_opt.workflow.sampler import sample_program


def call(llm, out, inp=10, **extra):
    return {"call": {"llm": llm, "input_tokens": inp, "output_tokens": out, **extra}}


def sample(raw, n=1, seed=0, **kw):
    return sample_program(parse_program(raw, source="t"), n, seed=seed,
                          durations=LinearDurations(**kw), source="t")


def rows(table, request=0):
    (_, calls), = [x for i, x in enumerate(table.iter_requests()) if i == request]
    return calls


def test_seq_and_par_schedule_with_dependencies():
    table = sample({"seq": [call("a", 2), {"par": [call("b", 3), {"seq": [call("c", 1),
                                                                          call("c", 1)]}]},
                            call("a", 1)]})
    calls = {(c.llm, c.start_s): c for c in rows(table)}
    a1, b, c1, c2, a2 = (calls[("a", 0)], calls[("b", 2)], calls[("c", 2)], calls[("c", 3)],
                         calls[("a", 5)])
    assert (a1.end_s, b.end_s, c1.end_s, c2.end_s, a2.end_s) == (2, 5, 3, 4, 6)
    assert a1.parents == ()
    assert b.parents == (a1.call_id,) and c1.parents == (a1.call_id,)
    assert c2.parents == (c1.call_id,)
    assert set(a2.parents) == {b.call_id, c2.call_id}


def test_fan_out_copies_share_parents_and_join():
    table = sample({"seq": [call("a", 1), {"par": {"count": 3, "body": call("b", 2)}},
                            call("a", 1)]})
    calls = rows(table)
    first, fan, last = calls[0], calls[1:4], calls[4]
    assert all(c.parents == (first.call_id,) and c.start_s == 1 for c in fan)
    assert set(last.parents) == {c.call_id for c in fan}
    assert last.start_s == 3


def test_zero_fan_out_passes_the_frontier_through():
    table = sample({"seq": [call("a", 1), {"par": {"count": 0, "body": call("b", 2)}},
                            call("a", 1)]})
    first, last = rows(table)
    assert last.parents == (first.call_id,) and last.start_s == 1


def test_loop_iterations_chain_and_grow_the_prompt():
    table = sample({"loop": {"count": 3, "body": call("a", 1, inp=100,
                                                       input_growth_tokens=10)}})
    calls = rows(table)
    assert [c.input_tokens for c in calls] == [100, 110, 120]
    assert [c.start_s for c in calls] == [0, 1, 2]
    assert calls[2].parents == (calls[1].call_id,)


def test_zero_iterations_and_choice_keep_dependencies():
    table = sample({"seq": [
        call("a", 1),
        {"loop": {"continue_p": 0.0, "min_iterations": 0, "max_iterations": 2,
                  "body": call("b", 1)}},
        {"choice": [{"p": 1.0, "body": {"tool": {"name": "t", "latency_s": 2.0}}},
                    {"p": 0.0, "body": call("c", 1)}]},
        call("a", 1)]})
    a1, tool, a2 = rows(table)
    assert tool.kind == "tool" and tool.name == "t" and tool.parents == (a1.call_id,)
    assert (tool.start_s, tool.end_s) == (1, 3)
    assert a2.parents == (tool.call_id,) and a2.start_s == 3


def test_same_seed_same_table_and_other_seed_differs():
    raw = {"loop": {"count": {"dist": "uniform", "low": 1, "high": 6},
                    "body": {"par": {"count": {"dist": "poisson", "mean": 2, "max": 6},
                                     "body": call("a", {"dist": "geometric", "mean": 5})}}}}
    one, two, other = sample(raw, 200, seed=7), sample(raw, 200, seed=7), sample(raw, 200, seed=8)
    for column in ("request", "llm", "start_s", "end_s", "input_tokens", "output_tokens",
                   "parent_ptr", "parent_idx"):
        assert np.array_equal(getattr(one, column), getattr(two, column)), column
    assert not np.array_equal(one.end_s[:50], other.end_s[: min(50, other.num_calls)]) \
        or one.num_calls != other.num_calls


def test_continue_p_loop_iteration_count_matches_its_expectation():
    table = sample({"loop": {"continue_p": 0.5, "min_iterations": 1, "max_iterations": 4,
                             "body": call("a", 1)}}, n=40_000, seed=3)
    per_request = np.bincount(table.request, minlength=40_000)
    assert per_request.min() == 1 and per_request.max() == 4
    # 1 + P(>=1 extra) + P(>=2) + P(>=3) = 1 + 1/2 + 1/4 + 1/8
    assert per_request.mean() == pytest.approx(1.875, abs=0.02)


def test_rows_are_topologically_ordered():
    table = sample({"seq": [call("a", 1), {"par": {"count": 4, "body": {"seq": [
        call("b", 2), {"loop": {"count": 2, "body": call("c", 1)}}]}}}, call("a", 1)]}, n=50)
    child = np.repeat(np.arange(table.num_calls), np.diff(table.parent_ptr))
    assert (table.parent_idx < child).all()
    assert (table.request[table.parent_idx] == table.request[child]).all()


@pytest.mark.parametrize("raw, n, needle", [
    # a loop of 10^9 iterations and a fan-out of 10^7 calls do not fit in memory
    ({"loop": {"count": 10**9, "body": call("a", 1)}}, 1, "samples about 1e+09 calls"),
    ({"par": {"count": 10**7, "body": call("a", 1)}}, 2000, "samples about 2e+10 calls"),
    # the mean before clipping is 1, the clipped samples are millions: the running guard
    ({"par": {"count": {"dist": "normal", "mean": 1, "std": 1e6, "min": 0},
              "body": call("a", 1)}}, 100, "the fan-out copies make at least"),
])
def test_samples_too_large_for_memory_are_refused_before_they_are_drawn(raw, n, needle):
    with pytest.raises(WorkflowError) as info:
        sample(raw, n=n)
    message = str(info.value)
    assert message.startswith("t: program: ") and needle in message
    assert "20,000,000" in message and "analyze.num_requests" in message


@pytest.mark.parametrize("raw, field", [
    # the means are allowed, the tails pass 1e9 tokens
    (call("a", 1, inp={"dist": "lognormal", "mean": 1e8, "cv": 1e3}), "program.call.input_tokens"),
    (call("a", {"dist": "gamma", "mean": 5e8, "cv": 2}), "program.call.output_tokens"),
    ({"tool": {"name": "t", "latency_s": {"dist": "lognormal", "mean": 1e300, "cv": 1}}},
     "program.tool.latency_s"),
    ({"loop": {"count": 3, "body": call("a", 1, inp=10, input_growth_tokens=9e8)}},
     "program.loop.body.call.input_growth_tokens"),
])
def test_samples_that_overflow_are_refused(raw, field):
    with _no_warning(), pytest.raises(WorkflowError) as info:
        sample(raw, n=5000)
    assert str(info.value).startswith(f"t: {field}: ")


class _no_warning:
    """No RuntimeWarning (an overflowing cast warns before it produces garbage)."""

    def __enter__(self):
        import warnings
        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("error", RuntimeWarning)

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)


def test_a_fan_out_that_is_often_empty_gives_requests_without_calls():
    raw = {"par": {"count": {"dist": "poisson", "mean": 0.5}, "body": call("a", 2)}}
    table = sample(raw, n=4000)
    stats = analyze_table(table, workflow="w", duration_model="linear")
    counts = np.bincount(table.request[table.kind == KIND_LLM], minlength=4000)
    empty = float(np.mean(counts == 0))
    assert empty == pytest.approx(math.exp(-0.5), abs=0.03)  # P(poisson(0.5) = 0)
    # an empty request takes 0 s; the others take 2 s (the copies run side by side)
    assert stats.e2e_latency_s.mean == pytest.approx(2 * (1 - empty))
    assert stats.llms[0].calls_per_request.mean == pytest.approx(counts.mean())


def test_a_program_that_never_calls_an_llm_is_an_analyze_error():
    table = sample({"par": {"count": 0, "body": call("a", 1)}}, n=3)
    with pytest.raises(AnalyzeError, match="hold no llm calls.*count is always 0"):
        analyze_table(table, workflow="w", duration_model="linear")
