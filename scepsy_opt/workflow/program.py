"""The workflow program language: a tree of call, tool, seq, par, choice and loop nodes.

Each node is a mapping with exactly one key naming its kind::

    call:   {llm: <catalog id>, name: <label>, input_tokens: <dist>, output_tokens: <dist>,
             input_growth_tokens: <tokens added per iteration of the innermost loop>,
             max_input_tokens: <the caller truncates longer prompts to this many tokens>}
    tool:   {name: <label>, latency_s: <dist>}
    seq:    [<node>, <node>, ...]                       # one after another
    par:    [<node>, <node>, ...]                       # static branches, joined at the end
    par:    {count: <dist>, body: <node>}               # fan-out of count copies, then join
    choice: [{p: 0.7, body: <node>}, {p: 0.3, body: <node>}]   # probabilities sum to 1
    loop:   {count: <dist>, body: <node>}               # count must be bounded (const, uniform,
                                                        # empirical, or any dist with max)
    loop:   {continue_p: 0.8, max_iterations: 20, body: <node>, min_iterations: 1}

Distributions are described in :mod:`scepsy_opt.workflow.distributions`. Validation happens on
load; every error names the workflow file, the node path (``program.seq[2].par.count``), the
value and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from scepsy_opt.core.errors import WorkflowError
from scepsy_opt.core.names import check_name
from scepsy_opt.core.trace import MAX_CALL_TOKENS
from scepsy_opt.workflow.distributions import PROB_TOLERANCE, Distribution, parse_distribution

NODE_KINDS = ("call", "tool", "seq", "par", "choice", "loop")


@dataclass(frozen=True)
class CallNode:
    llm: str
    name: str
    input_tokens: Distribution
    output_tokens: Distribution
    input_growth_tokens: float
    path: str
    max_input_tokens: int | None = None  # prompts longer than this are truncated by the caller


@dataclass(frozen=True)
class ToolNode:
    name: str
    latency_s: Distribution
    path: str


@dataclass(frozen=True)
class SeqNode:
    steps: tuple[Node, ...]
    path: str


@dataclass(frozen=True)
class ParNode:
    """Static ``branches`` (joined) or a fan-out of ``count`` copies of ``body`` (joined)."""

    branches: tuple[Node, ...]
    count: Distribution | None
    body: Node | None
    path: str


@dataclass(frozen=True)
class ChoiceNode:
    options: tuple[tuple[float, Node], ...]
    path: str


@dataclass(frozen=True)
class LoopNode:
    """Repeat ``body``: ``count`` times, or while a coin with ``continue_p`` says so.

    With ``continue_p`` the number of iterations is ``min_iterations`` plus the number of
    successes before the first failure, capped at ``max_iterations``.
    """

    body: Node
    count: Distribution | None
    continue_p: float | None
    min_iterations: int
    max_iterations: int
    path: str


Node = CallNode | ToolNode | SeqNode | ParNode | ChoiceNode | LoopNode


def walk(node: Node) -> Iterator[Node]:
    """All nodes of a program, depth first."""
    yield node
    if isinstance(node, SeqNode):
        for step in node.steps:
            yield from walk(step)
    elif isinstance(node, ParNode):
        for branch in node.branches:
            yield from walk(branch)
        if node.body is not None:
            yield from walk(node.body)
    elif isinstance(node, ChoiceNode):
        for _, body in node.options:
            yield from walk(body)
    elif isinstance(node, LoopNode):
        yield from walk(node.body)


def llms_of(node: Node) -> tuple[str, ...]:
    """The llm ids a program calls, sorted."""
    return tuple(sorted({n.llm for n in walk(node) if isinstance(n, CallNode)}))


def expected_calls(node: Node) -> float:
    """The expected number of calls and tool spans of one request (the rows it samples): counts
    at their mean, capped at their largest value (``inf`` when that overflows)."""
    if isinstance(node, CallNode | ToolNode):
        return 1.0
    if isinstance(node, SeqNode):
        return math.fsum(expected_calls(step) for step in node.steps)
    if isinstance(node, ParNode):
        if node.body is None:
            return math.fsum(expected_calls(branch) for branch in node.branches)
        assert node.count is not None
        return _count_mean(node.count) * expected_calls(node.body)
    if isinstance(node, ChoiceNode):
        return math.fsum(p * expected_calls(body) for p, body in node.options)
    if node.count is not None:
        return _count_mean(node.count) * expected_calls(node.body)
    assert node.continue_p is not None
    # min_iterations plus the successes before the first failure, capped at max_iterations:
    # E = min + sum_{j=1}^{max-min} continue_p^j.
    p, extra = node.continue_p, node.max_iterations - node.min_iterations
    tail = p * (1 - p**extra) / (1 - p) if p > 0 else 0.0
    return (node.min_iterations + tail) * expected_calls(node.body)


def _count_mean(count: Distribution) -> float:
    return max(0.0, min(count.mean, count.upper_bound))


def parse_program(raw: Any, *, source: str, path: str = "program") -> Node:
    """Parse and validate one program tree."""
    if not isinstance(raw, dict) or len(raw) != 1:
        raise WorkflowError(
            "a node must be a mapping with exactly one key naming its kind",
            source=source, field=path, value=raw,
            fix=f"write one of {', '.join(NODE_KINDS)} as the only key, e.g. {{call: {{...}}}}",
        )
    ((kind, body),) = raw.items()
    here = f"{path}.{kind}"
    if kind == "call":
        return _parse_call(body, source, here)
    if kind == "tool":
        return _parse_tool(body, source, here)
    if kind == "seq":
        steps = _node_list(body, source, here, "seq")
        return SeqNode(tuple(parse_program(s, source=source, path=f"{here}[{i}]")
                             for i, s in enumerate(steps)), here)
    if kind == "par":
        return _parse_par(body, source, here)
    if kind == "choice":
        return _parse_choice(body, source, here)
    if kind == "loop":
        return _parse_loop(body, source, here)
    raise WorkflowError("unknown node kind", source=source, field=path, value=kind,
                        fix=f"use one of {', '.join(NODE_KINDS)}")


def _mapping(body: Any, source: str, path: str, allowed: set[str], required: set[str]) -> dict:
    if not isinstance(body, dict):
        raise WorkflowError("expected a mapping", source=source, field=path, value=body,
                            fix=f"give the keys {', '.join(sorted(required))}")
    unknown = set(body) - allowed
    if unknown:
        raise WorkflowError(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}",
                            source=source, field=path, value=sorted(map(str, unknown)),
                            fix=f"allowed keys are {', '.join(sorted(allowed))}")
    missing = required - set(body)
    if missing:
        raise WorkflowError(f"missing key(s) {', '.join(sorted(missing))}", source=source,
                            field=path, value=body, fix=f"add {', '.join(sorted(missing))}")
    return body


def _node_list(body: Any, source: str, path: str, kind: str) -> list:
    if not isinstance(body, list) or not body:
        raise WorkflowError(f"'{kind}' needs a non-empty list of nodes", source=source,
                            field=path, value=body, fix=f"write {kind}: [<node>, <node>, ...]")
    return body


def _label(value: Any, source: str, path: str) -> str:
    """A node's ``name`` or ``llm``: it names the calls in traces and statistics."""
    return check_name(value, what="a node's name or llm", source=source, field=path,
                      error=WorkflowError)


def _within_tokens(dist: Distribution, raw: Any, source: str, path: str) -> None:
    """Token counts beyond :data:`MAX_CALL_TOKENS` (a constant, a bound or the mean) cannot be
    sampled as exact integers and exceed every llm's context."""
    bound = dist.upper_bound if math.isfinite(dist.upper_bound) else dist.mean
    if not bound <= MAX_CALL_TOKENS:
        raise WorkflowError(f"token counts above {MAX_CALL_TOKENS:,} exceed every llm's context",
                            source=source, field=path, value=raw,
                            fix="give a realistic distribution, or cap it with max: <tokens>")


def _parse_call(body: Any, source: str, path: str) -> CallNode:
    body = _mapping(body, source, path,
                    {"llm", "name", "input_tokens", "output_tokens", "input_growth_tokens",
                     "max_input_tokens"},
                    {"llm", "input_tokens", "output_tokens"})
    llm = _label(body["llm"], source, f"{path}.llm")
    input_tokens = parse_distribution(body["input_tokens"], source=source,
                                      field=f"{path}.input_tokens")
    output_tokens = parse_distribution(body["output_tokens"], source=source,
                                       field=f"{path}.output_tokens")
    for name, dist in (("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        if dist.lower_bound < 0:
            raise WorkflowError("token counts cannot be negative", source=source,
                                field=f"{path}.{name}", value=body[name],
                                fix="use a non-negative distribution or set min: 0")
        _within_tokens(dist, body[name], source, f"{path}.{name}")
    growth = body.get("input_growth_tokens", 0)
    if isinstance(growth, bool) or not isinstance(growth, int | float) \
            or not 0 <= growth <= MAX_CALL_TOKENS:
        raise WorkflowError(f"input_growth_tokens must be a number in [0, {MAX_CALL_TOKENS:,}]",
                            source=source, field=f"{path}.input_growth_tokens", value=growth,
                            fix="give the tokens the prompt grows by per loop iteration")
    cap = body.get("max_input_tokens")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise WorkflowError("max_input_tokens must be a whole number of tokens >= 1",
                            source=source, field=f"{path}.max_input_tokens", value=cap,
                            fix="give the longest prompt the caller sends (it truncates "
                                "longer ones), e.g. the llm's context window less its output")
    name = _label(body.get("name", llm), source, f"{path}.name")
    return CallNode(llm, name, input_tokens, output_tokens, float(growth), path, cap)


def _parse_tool(body: Any, source: str, path: str) -> ToolNode:
    body = _mapping(body, source, path, {"name", "latency_s"}, {"name", "latency_s"})
    latency = parse_distribution(body["latency_s"], source=source, field=f"{path}.latency_s")
    if latency.lower_bound < 0:
        raise WorkflowError("a latency cannot be negative", source=source,
                            field=f"{path}.latency_s", value=body["latency_s"],
                            fix="use a non-negative distribution or set min: 0")
    return ToolNode(_label(body["name"], source, f"{path}.name"), latency, path)


def _count(raw: Any, source: str, path: str) -> Distribution:
    dist = parse_distribution(raw, source=source, field=path)
    if dist.lower_bound < 0:
        raise WorkflowError("a count cannot be negative", source=source, field=path, value=raw,
                            fix="use a non-negative distribution or set min: 0")
    return dist


def _parse_par(body: Any, source: str, path: str) -> ParNode:
    if isinstance(body, list):
        branches = _node_list(body, source, path, "par")
        return ParNode(tuple(parse_program(b, source=source, path=f"{path}[{i}]")
                             for i, b in enumerate(branches)), None, None, path)
    body = _mapping(body, source, path, {"count", "body", "branches"}, set())
    if "branches" in body:
        if set(body) != {"branches"}:
            raise WorkflowError("'par' takes either branches or count + body", source=source,
                                field=path, value=sorted(body),
                                fix="split into two par nodes or drop count/body")
        return _parse_par(body["branches"], source, f"{path}.branches")
    if set(body) != {"count", "body"}:
        raise WorkflowError("a fan-out 'par' needs both count and body", source=source,
                            field=path, value=sorted(body),
                            fix="write par: {count: <dist>, body: <node>}")
    count = _count(body["count"], source, f"{path}.count")
    return ParNode((), count, parse_program(body["body"], source=source, path=f"{path}.body"),
                   path)


def _parse_choice(body: Any, source: str, path: str) -> ChoiceNode:
    options_raw = _node_list(body, source, path, "choice")
    options = []
    for i, option in enumerate(options_raw):
        here = f"{path}[{i}]"
        option = _mapping(option, source, here, {"p", "body"}, {"p", "body"})
        p = option["p"]
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
            raise WorkflowError("a branch probability must be in [0, 1]", source=source,
                                field=f"{here}.p", value=p, fix="write a probability")
        options.append((float(p), parse_program(option["body"], source=source,
                                                path=f"{here}.body")))
    total = sum(p for p, _ in options)
    if abs(total - 1.0) > PROB_TOLERANCE:
        raise WorkflowError(f"branch probabilities sum to {total:.6g}, not 1", source=source,
                            field=path, value=[p for p, _ in options],
                            fix="make the p of the branches sum to 1")
    return ChoiceNode(tuple(options), path)


def _parse_loop(body: Any, source: str, path: str) -> LoopNode:
    body = _mapping(body, source, path,
                    {"count", "continue_p", "max_iterations", "min_iterations", "body"}, {"body"})
    inner = parse_program(body["body"], source=source, path=f"{path}.body")
    if "count" in body:
        if {"continue_p", "max_iterations", "min_iterations"} & set(body):
            raise WorkflowError("a loop takes either count or continue_p (+ max_iterations)",
                                source=source, field=path, value=sorted(body),
                                fix="drop one of the two forms")
        count = _count(body["count"], source, f"{path}.count")
        if not math.isfinite(count.upper_bound):
            raise WorkflowError("the loop has no bound: its count distribution is unbounded",
                                source=source, field=f"{path}.count", value=body["count"],
                                fix="add max: <largest number of iterations> to the count")
        return LoopNode(inner, count, None, 0, int(count.upper_bound), path)
    if "continue_p" not in body:
        raise WorkflowError("a loop needs count or continue_p", source=source, field=path,
                            value=sorted(body),
                            fix="write loop: {count: <dist>, body: ...} or "
                                "loop: {continue_p: 0.7, max_iterations: 20, body: ...}")
    p = body["continue_p"]
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p < 1:
        raise WorkflowError("continue_p must be in [0, 1)", source=source,
                            field=f"{path}.continue_p", value=p,
                            fix="write the probability of running one more iteration")
    if "max_iterations" not in body:
        raise WorkflowError("the loop has no bound: continue_p without max_iterations",
                            source=source, field=path, value=sorted(body),
                            fix="add max_iterations: <cap>, e.g. 50")
    cap = body["max_iterations"]
    low = body.get("min_iterations", 1)
    for name, value in (("max_iterations", cap), ("min_iterations", low)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise WorkflowError(f"{name} must be an integer >= 0", source=source,
                                field=f"{path}.{name}", value=value, fix="write a whole number")
    if low > cap:
        raise WorkflowError("min_iterations is larger than max_iterations", source=source,
                            field=path, value={"min_iterations": low, "max_iterations": cap},
                            fix="make min_iterations <= max_iterations")
    return LoopNode(inner, None, float(p), int(low), int(cap), path)
