import pytest

from scepsy_opt.core.errors import WorkflowError
from scepsy_opt.workflow.program import (
    CallNode,
    ChoiceNode,
    LoopNode,
    ParNode,
    SeqNode,
    ToolNode,
    expected_calls,
    llms_of,
    parse_program,
    walk,
)

CALL = {"call": {"llm": "a", "input_tokens": 10, "output_tokens": 2}}


def parse(raw):
    return parse_program(raw, source="wf.yaml")


def test_every_node_kind_parses():
    program = parse({"seq": [
        CALL,
        {"tool": {"name": "search", "latency_s": 0.5}},
        {"par": [CALL, {"call": {"llm": "b", "input_tokens": 5, "output_tokens": 0}}]},
        {"par": {"count": 3, "body": CALL}},
        {"choice": [{"p": 0.25, "body": CALL}, {"p": 0.75, "body": CALL}]},
        {"loop": {"count": {"dist": "uniform", "low": 1, "high": 3}, "body": CALL}},
        {"loop": {"continue_p": 0.5, "max_iterations": 4, "body": CALL}},
    ]})
    kinds = [type(n) for n in walk(program)]
    for kind in (SeqNode, CallNode, ToolNode, ParNode, ChoiceNode, LoopNode):
        assert kind in kinds
    assert llms_of(program) == ("a", "b")
    loops = [n for n in walk(program) if isinstance(n, LoopNode)]
    assert loops[0].max_iterations == 3 and loops[1].max_iterations == 4
    assert loops[1].min_iterations == 1


def test_call_name_defaults_to_llm_and_paths_locate_nodes():
    program = parse({"seq": [CALL, {"par": {"count": 2, "body": CALL}}]})
    calls = [n for n in walk(program) if isinstance(n, CallNode)]
    assert calls[0].name == "a"
    assert calls[0].path == "program.seq[0].call"
    assert calls[1].path == "program.seq[1].par.body.call"


@pytest.mark.parametrize(
    "raw, field, needle",
    [
        ({"fork": [CALL]}, "program", "unknown node kind"),
        ({"seq": [CALL], "par": [CALL]}, "program", "exactly one key"),
        ({"seq": []}, "program.seq", "non-empty list"),
        ({"seq": [{"call": {"llm": "a", "input_tokens": 1}}]}, "program.seq[0].call",
         "missing key(s) output_tokens"),
        ({"call": {"llm": "a", "input_tokens": 1, "output_tokens": 1, "temp": 0.7}},
         "program.call", "unknown key(s) temp"),
        ({"call": {"llm": "a", "input_tokens": -5, "output_tokens": 1}},
         "program.call.input_tokens", "cannot be negative"),
        ({"choice": [{"p": 0.5, "body": CALL}, {"p": 0.4, "body": CALL}]}, "program.choice",
         "sum to 0.9"),
        ({"choice": [{"p": 1.5, "body": CALL}]}, "program.choice[0].p", "in [0, 1]"),
        ({"loop": {"continue_p": 0.9, "body": CALL}}, "program.loop", "has no bound"),
        ({"loop": {"count": {"dist": "poisson", "mean": 4}, "body": CALL}},
         "program.loop.count", "has no bound"),
        ({"loop": {"continue_p": 1.0, "max_iterations": 3, "body": CALL}},
         "program.loop.continue_p", "[0, 1)"),
        ({"loop": {"continue_p": 0.5, "max_iterations": 2, "min_iterations": 3, "body": CALL}},
         "program.loop", "min_iterations is larger"),
        ({"par": {"count": 3}}, "program.par", "needs both count and body"),
        ({"par": {"count": {"dist": "normal", "mean": 2, "std": 1}, "body": CALL}},
         "program.par.count", "cannot be negative"),
        ({"tool": {"name": "t"}}, "program.tool", "missing key(s) latency_s"),
        # token counts that overflow int64 or exceed every context, and bad growth
        ({"call": {"llm": "a", "input_tokens": 1e19, "output_tokens": 1}},
         "program.call.input_tokens", "token counts above 1,000,000,000"),
        ({"call": {"llm": "a", "input_tokens": 1, "output_tokens": {
            "dist": "lognormal", "mean": 1e300, "cv": 1}}},
         "program.call.output_tokens", "token counts above 1,000,000,000"),
        ({"call": {"llm": "a", "input_tokens": {"dist": "uniform", "low": 1, "high": 1e12},
                   "output_tokens": 1}}, "program.call.input_tokens", "token counts above"),
        ({"call": {"llm": "a", "input_tokens": 1, "output_tokens": 1,
                   "input_growth_tokens": float("inf")}},
         "program.call.input_growth_tokens", "in [0, 1,000,000,000]"),
        # names of nodes and llms become words in traces, statistics and paths
        ({"call": {"llm": "a", "name": "x\ntrust-remote-code: true", "input_tokens": 1,
                   "output_tokens": 1}}, "program.call.name", "is not a valid name"),
        ({"call": {"llm": "../a", "input_tokens": 1, "output_tokens": 1}}, "program.call.llm",
         "is not a valid name"),
        ({"tool": {"name": "$(touch x)", "latency_s": 1}}, "program.tool.name",
         "is not a valid name"),
    ],
)
def test_malformed_programs_name_the_node(raw, field, needle):
    with pytest.raises(WorkflowError) as info:
        parse(raw)
    message = str(info.value)
    assert message.startswith(f"wf.yaml: {field}")
    assert needle in message
    assert "Fix:" in message


def test_bounded_count_with_max_is_accepted():
    loop = parse({"loop": {"count": {"dist": "poisson", "mean": 4, "max": 12}, "body": CALL}})
    assert loop.max_iterations == 12


@pytest.mark.parametrize("raw, expected", [
    (CALL, 1.0),
    ({"seq": [CALL, {"tool": {"name": "t", "latency_s": 1}}]}, 2.0),
    ({"par": {"count": {"dist": "uniform", "low": 2, "high": 4}, "body": CALL}}, 3.0),
    ({"par": {"count": {"dist": "poisson", "mean": 50, "max": 7}, "body": CALL}}, 7.0),
    ({"choice": [{"p": 0.25, "body": {"seq": [CALL, CALL]}}, {"p": 0.75, "body": CALL}]}, 1.25),
    # 1 + 0.5 + 0.25: the first iteration, then one more while the coin says so, at most 3
    ({"loop": {"continue_p": 0.5, "min_iterations": 1, "max_iterations": 3, "body": CALL}},
     1.75),
    ({"loop": {"count": 10**9, "body": {"par": {"count": 10**7, "body": CALL}}}}, 1e16),
])
def test_expected_calls_per_request(raw, expected):
    assert expected_calls(parse(raw)) == pytest.approx(expected)
