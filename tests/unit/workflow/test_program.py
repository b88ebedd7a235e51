import pytest

from scepsy_opt.core.errors import WorkflowError
from scepsy_opt.workflow.program import (
    CallNode,
    ChoiceNode,
    LoopNode,
    ParNode,
    SeqNode,
    ToolNode,
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
