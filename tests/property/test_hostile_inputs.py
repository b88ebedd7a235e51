"""Hostile input files (hypothesis): workflow programs, cluster files and JSON Lines traces with
names full of shell metacharacters, '..', '/' and newlines, huge and non-finite numbers, wrong
types and missing keys. Any generated file either analyzes or fails with a ScepsyError, never
another exception; through the CLI, a handful of them never print a traceback and never leave
an artifact."""

import json
import math

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from scepsy_opt.config import ClusterConf
from scepsy_opt.core.catalog import expand_cluster, load_yaml
from scepsy_opt.core.errors import ScepsyError
from scepsy_opt.core.names import is_name
from scepsy_opt.core.trace import read_jsonl
from scepsy_opt.workflow.analyze import analyze_table
from scepsy_opt.workflow.spec import parse_workflow
from scepsy_opt.workflow.stage import AnalyzeSettings, analyze_workflow
from scepsy_opt.workflow.work import WorkEstimateSettings

LLM = "llama-3.2-3b-instruct"
WORK = WorkEstimateSettings("H100-SXM-80GB")
HOSTILE_NAMES = ["ok", "a.b-c_d", "../../x", "a/b", "..", "x\ny: 1", "$(touch /tmp/pwn)",
                 "`id`", "a;b", "a b", "-rf", "", "ü", "x" * 64, "n$(id)", "'q'", "\"dq\"",
                 "a\x00b", "___"]
hostile_names = st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(max_size=12))
# mostly valid (hypothesis picks a branch of one_of about evenly; equal branches merge)
names = st.one_of(st.just("ok"), st.just("a.b-c_d"), st.just("w1"), hostile_names)
# Numbers a file may hold: small ones that sample fast, and ones that must be refused (huge,
# non-finite, negative, fractional, of the wrong type). No moderate loop counts (10^5
# iterations are valid and only slow).
numbers = st.one_of(st.sampled_from([0, 1]), st.sampled_from([2, 3]), st.sampled_from([0.5, 40]),
                    st.sampled_from(
    [-1, -1e300, 1e9, 1e19, 10**30, math.inf, -math.inf, math.nan, "3", None, True, [1],
     {"a": 1}]))
junk = st.one_of(numbers, names, st.just([]), st.just({}))


def _dist(value, kind):
    return {"dist": kind, "mean": value, "cv": value} if kind == "lognormal" else {
        "dist": kind, "low": 0, "high": value}


dists = st.one_of(numbers, numbers.map(lambda x: x),
                  st.builds(_dist, numbers, st.sampled_from(["lognormal", "uniform"])),
                  st.builds(lambda m: {"dist": "lognormal", "mean": m}, numbers))
calls = st.builds(
    lambda llm, name, i, o, g: {"call": {"llm": llm, "name": name, "input_tokens": i,
                                         "output_tokens": o, "input_growth_tokens": g}},
    st.one_of(st.just(LLM), names), names, dists, dists,
    st.sampled_from([0, 0, 0, 10, 1e12, math.inf, -1, "x"]))
tools = st.builds(lambda name, lat: {"tool": {"name": name, "latency_s": lat}},
                  st.one_of(st.just("t"), names), dists)


def _with_junk(node, key, value):
    """``node`` with one more key (unknown to its kind), or a required one removed."""
    ((kind, body),) = node.items()
    if isinstance(body, dict):
        body = dict(body)
        if value is None and body:
            body.pop(sorted(body)[0])
        else:
            body[key] = value
    return {kind: body}


programs = st.recursive(
    st.one_of(calls, tools),
    lambda inner: st.one_of(
        st.builds(lambda s: {"seq": s}, st.lists(inner, min_size=0, max_size=3)),
        st.builds(lambda s: {"par": s}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c, b: {"par": {"count": c, "body": b}}, dists, inner),
        st.builds(lambda c, b: {"loop": {"count": c, "body": b}}, dists, inner),
        st.builds(lambda p, m, b: {"loop": {"continue_p": p, "max_iterations": m, "body": b}},
                  st.sampled_from([0.5, 1.0, -0.1, math.nan, "x"]), numbers, inner),
        st.builds(lambda p, a, b: {"choice": [{"p": p, "body": a}, {"p": 1 - p, "body": b}]
                                   if isinstance(p, float) else [{"p": p, "body": a}]},
                  st.sampled_from([0.25, 0.5, 2.0, math.nan]), inner, inner),
        st.builds(_with_junk, inner, hostile_names, junk),
    ),
    max_leaves=6,
)
workflows = st.builds(lambda name, program, extra: {"name": name, "program": program, **extra},
                      names, st.one_of(programs, programs.map(lambda p: p),
                                       programs.map(lambda p: {"seq": [p]}), junk),
                      st.dictionaries(st.sampled_from(["description", "weight", "rate"]), junk,
                                      max_size=1))

groups = st.fixed_dictionaries({
    "name": names, "count": st.one_of(st.sampled_from([1, 2, 1000]), numbers),
    "gpu": st.sampled_from(["H100-SXM-80GB", "L40S-48GB", "x"])},
    optional={"gpus_per_node": st.sampled_from([8, 4, 0, -1, 3]),
              "nvlink_domain_size": st.sampled_from([1, 2, 3, None]),
              "nodes_per_rack": st.sampled_from([4, 1, 0]),
              "network_gb_s": st.sampled_from([400.0, 0.0, -1.0, math.nan])})
clusters = st.builds(lambda name, gs: {"name": name, "node_groups": gs}, names,
                     st.lists(groups, min_size=1, max_size=2))

times = st.one_of(st.sampled_from([0.0, 1.0, 2.5]), numbers)
records = st.fixed_dictionaries(
    {"request_id": st.one_of(st.sampled_from(["r1", "r2"]), names),
     "call_id": st.one_of(st.sampled_from(["c1", "c2", "c3", "c4"]), names),
     "llm": st.one_of(st.just(LLM), names, numbers),
     "start_s": st.one_of(st.just(0.0), times), "end_s": times},
    optional={"parents": st.one_of(st.lists(st.sampled_from(["c1", "c2"]), max_size=2),
                                   st.just([]), junk),
              "kind": st.sampled_from(["llm", "llm", "tool", "gpu", 3]),
              "name": names, "input_tokens": numbers, "output_tokens": numbers})


def _yaml(value) -> str:
    return yaml.safe_dump(value, allow_unicode=True)


def _json_line(record) -> str:
    return json.dumps(record)  # NaN and Infinity as Python writes them (json.loads reads them)


@pytest.fixture(scope="module")
def analyze_settings():
    return AnalyzeSettings(5, 0, WORK)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(workflow=workflows)
def test_any_workflow_file_analyzes_or_fails_with_a_project_error(catalog, analyze_settings,
                                                                 tmp_path, workflow):
    path = tmp_path / "w.yaml"
    path.write_text(_yaml(workflow))
    try:
        raw = load_yaml(path)
        spec = parse_workflow(raw, source_of=lambda option: str(path),
                              llm_ids=frozenset(catalog.llms), option="w")
        analysis, _ = analyze_workflow(spec, analyze_settings, catalog)
    except ScepsyError as error:
        event(error.problem[:50])
        assert str(path) in str(error)
        return
    event("analyzed")
    assert is_name(analysis.workflow) and analysis.combined.num_requests == 5


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cluster=clusters)
def test_any_cluster_file_expands_or_fails_with_a_project_error(catalog, tmp_path, cluster):
    path = tmp_path / "c.yaml"
    path.write_text(_yaml(cluster))
    try:
        # Hydra merges the file into the cluster schema (types, defaults) before expanding it;
        # a type it refuses is its composition error, naming the file and key (no traceback)
        conf = OmegaConf.merge(OmegaConf.structured(ClusterConf), load_yaml(path))
    except OmegaConfBaseException:
        return
    try:
        spec = expand_cluster(OmegaConf.to_container(conf), catalog, source=str(path))
    except ScepsyError as error:
        event(type(error).__name__)
        assert str(path) in str(error)
        return
    event("expanded")
    assert is_name(spec.name) and all(is_name(n.id) and len(n.id) <= 63 for n in spec.nodes)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(records, min_size=1, max_size=4), garbage=st.sampled_from(
    [b"", b"", b"", b"\xff\xfe", b"{\"a\": ", b"[" * 5000 + b"]" * 5000]))
def test_any_jsonl_trace_analyzes_or_fails_with_a_project_error(tmp_path, lines, garbage):
    path = tmp_path / "t.jsonl"
    path.write_bytes("\n".join(_json_line(r) for r in lines).encode() + b"\n" + garbage)
    try:
        table = read_jsonl(path)
        stats = analyze_table(table, workflow="w", duration_model="recorded")
    except ScepsyError as error:
        event(error.problem[:50])
        assert str(path) in str(error)
        return
    event("analyzed")
    assert stats.num_requests >= 1 and math.isfinite(stats.e2e_latency_s.mean)


# ------------------------------------------------------------------------ through the CLI


@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(workflow=workflows, trace=st.lists(records, min_size=1, max_size=3))
def test_generated_files_through_the_cli(cli, tmp_path_factory, workflow, trace):
    """A workflow program and a trace workflow, each generated, through the CLI (analyze only):
    exit 0 with the statistics, or exit 2 with one error line; never a traceback, never an
    artifact of a failed run, nothing outside outputs/."""
    conf = tmp_path_factory.mktemp("conf")
    (conf / "workflow").mkdir()
    (conf / "workflow" / "w.yaml").write_text(_yaml(workflow))
    (conf / "t.jsonl").write_text("\n".join(_json_line(r) for r in trace) + "\n")
    for args in (["+workflow=w"], ["+workflow=traces", f"workflow.traces.path={conf}/t.jsonl"]):
        work = tmp_path_factory.mktemp("work")
        result = cli(*args, f"hydra.searchpath=[file://{conf}]", "analyze.num_requests=5",
                     "stop_after=analyze", cwd=work)
        assert "Traceback" not in result.stderr + result.stdout
        # 1: Hydra's own composition error, naming the file and key (an unknown key, a
        # value its schema refuses), before the run starts
        assert result.returncode == 0 or "error: " in result.stderr or (
            result.returncode == 1 and "raised while composing config" in result.stderr), \
            result.stderr
        written = sorted(p.relative_to(work) for p in work.rglob("*") if p.is_file())
        assert all(p.parts[0] == "outputs" for p in written), written
        stats = [p for p in written if p.name == "workflow_stats.json"]
        if result.returncode:
            assert result.returncode in (1, 2) and not stats, result.stderr
        else:
            assert len(stats) == 1
