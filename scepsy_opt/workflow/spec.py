"""A workflow as the stages see it: a program, recorded traces, or a weighted mix of workflows.

The YAML of ``conf/workflow/<name>.yaml`` holds ``name``, ``description`` and exactly one of
``program`` (a program tree, see :mod:`scepsy_opt.workflow.program`), ``traces``
(``{path, format, options, llm_map}``) or ``members`` (other workflows served together, each
with a ``weight``: its share of the request arrival rate).
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from scepsy_opt.core.errors import CatalogError, WorkflowError
from scepsy_opt.core.names import check_name
from scepsy_opt.workflow.program import CallNode, Node, llms_of, parse_program, walk

log = logging.getLogger(__name__)
TRACE_FORMATS = ("jsonl", "litellm", "otel", "metagpt")


@dataclass(frozen=True)
class TraceSource:
    """Recorded traces: a file or folder in one of :data:`TRACE_FORMATS`."""

    path: str
    format: str
    options: tuple[tuple[str, Any], ...] = ()
    llm_map: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class WorkflowSpec:
    """One workflow. Exactly one of ``program``, ``traces`` and ``members`` is set."""

    name: str
    description: str
    source: str
    program: Node | None = None
    traces: TraceSource | None = None
    members: tuple[WorkflowMember, ...] = ()

    @property
    def is_mix(self) -> bool:
        return bool(self.members)

    @property
    def llms(self) -> tuple[str, ...]:
        """Llm ids of a program or of all members' programs (empty for raw traces)."""
        if self.program is not None:
            return llms_of(self.program)
        return tuple(sorted({llm for m in self.members for llm in m.workflow.llms}))


@dataclass(frozen=True)
class WorkflowMember:
    """A workflow of a mix and its relative arrival-rate weight (> 0)."""

    workflow: WorkflowSpec
    weight: float

    @property
    def name(self) -> str:
        return self.workflow.name


def parse_workflow(
    raw: Mapping[str, Any],
    *,
    source_of: Callable[[str], str],
    llm_ids: frozenset[str],
    option: str,
) -> WorkflowSpec:
    """Validate a composed workflow config (plain containers) into a :class:`WorkflowSpec`.

    ``option`` is the config-group option it was selected as, ``source_of(option)`` names the
    file it came from for messages, and ``llm_ids`` are the catalog's llm ids.
    """
    source = source_of(option)
    allowed = {"name", "description", "program", "traces", "members", "weight"}
    unknown = set(raw) - allowed
    if unknown:
        raise WorkflowError(f"unknown key(s) {', '.join(sorted(unknown))}", source=source,
                            value=sorted(unknown),
                            fix=f"a workflow has the keys {', '.join(sorted(allowed))}")
    name = check_name(raw.get("name") or option, what="a workflow name", source=source,
                      field="name", error=WorkflowError)
    description = str(raw.get("description") or "")
    present = [key for key in ("program", "traces", "members") if raw.get(key)]
    if len(present) != 1:
        raise WorkflowError(
            "a workflow needs exactly one of program, traces and members",
            source=source, value=present or None,
            fix="declare a program tree, point traces at recorded calls, or list members",
        )
    (kind,) = present
    if kind == "program":
        program = parse_program(raw["program"], source=source)
        _check_llms(program, llm_ids, source)
        return WorkflowSpec(name, description, source, program=program)
    if kind == "traces":
        return WorkflowSpec(name, description, source, traces=_parse_traces(raw["traces"], source))
    members_raw = raw["members"]
    if not isinstance(members_raw, Mapping):
        raise WorkflowError("members must be a mapping of workflow name to its config",
                            source=source, field="members", value=members_raw,
                            fix="include members with the defaults list "
                                "(- /workflow@members.<name>: <name>) and give each a weight")
    members = []
    for key, member_raw in members_raw.items():
        if not isinstance(member_raw, Mapping):
            raise WorkflowError("a member must be a workflow config", source=source,
                                field=f"members.{key}", value=member_raw,
                                fix=f"add '- /workflow@members.{key}: {key}' to the defaults")
        if member_raw.get("members"):
            raise WorkflowError("a member of a mix cannot itself be a mix", source=source,
                                field=f"members.{key}", fix="list the inner members directly")
        weight = _weight(member_raw.get("weight", 1.0), source, f"members.{key}.weight")
        spec = parse_workflow({k: v for k, v in member_raw.items() if k != "weight"},
                              source_of=source_of, llm_ids=llm_ids, option=str(key))
        members.append(WorkflowMember(spec, weight))
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise WorkflowError("two members share a name", source=source, field="members",
                            value=names, fix="give every member a distinct name")
    return WorkflowSpec(name, description, source, members=tuple(members))


def _weight(value: Any, source: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise WorkflowError("a member's rate weight must be a number > 0", source=source,
                            field=field, value=value,
                            fix="give each member a positive share of the arrival rate")
    return float(value)


def _check_llms(program: Node, llm_ids: frozenset[str], source: str) -> None:
    for node in walk(program):
        if isinstance(node, CallNode) and node.llm not in llm_ids:
            close = difflib.get_close_matches(node.llm, sorted(llm_ids), n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise CatalogError(
                "unknown llm", source=source, field=f"{node.path}.llm", value=node.llm,
                fix=f"{hint}use an id of models/<id>/spec.yaml or add the llm to the catalog",
            )


def _parse_traces(raw: Any, source: str) -> TraceSource:
    if not isinstance(raw, Mapping):
        raise WorkflowError("traces must be a mapping", source=source, field="traces", value=raw,
                            fix="write traces: {path: <file or folder>, format: jsonl}")
    unknown = set(raw) - {"path", "format", "options", "llm_map"}
    if unknown:
        raise WorkflowError(f"unknown key(s) {', '.join(sorted(unknown))}", source=source,
                            field="traces", value=sorted(unknown),
                            fix="traces takes path, format, options and llm_map")
    path = raw.get("path")
    if not isinstance(path, str) or not path or path == "???":
        raise WorkflowError("traces.path must name a file or folder", source=source,
                            field="traces.path", value=path,
                            fix="set workflow.traces.path=/path/to/trace.jsonl")
    fmt = raw.get("format", "jsonl")
    if fmt not in TRACE_FORMATS:
        raise WorkflowError("unknown trace format", source=source, field="traces.format",
                            value=fmt, fix=f"use one of {', '.join(TRACE_FORMATS)}")
    options = raw.get("options") or {}
    llm_map = raw.get("llm_map") or {}
    for field, value in (("options", options), ("llm_map", llm_map)):
        if not isinstance(value, Mapping):
            raise WorkflowError(f"traces.{field} must be a mapping", source=source,
                                field=f"traces.{field}", value=value, fix="write key: value pairs")
    for recorded, llm in llm_map.items():  # the targets become llm ids
        check_name(llm, what="an llm id", source=source, field=f"traces.llm_map.{recorded}",
                   error=WorkflowError)
    return TraceSource(path, fmt, tuple(sorted(options.items())),
                       tuple(sorted((str(k), str(v)) for k, v in llm_map.items())))
