from pathlib import Path

import pytest

from scepsy_opt.core.errors import TraceError, WorkflowError
from scepsy_opt.workflow.spec import parse_workflow
from scepsy_opt.workflow.stage import AnalyzeSettings, analysis_to_json, analyze_workflow
from scepsy_opt.workflow.work import WorkEstimateSettings

DATA = Path(__file__).resolve().parents[2] / "data"
WORK = WorkEstimateSettings("H100-SXM-80GB")
CALL = {"call": {"llm": "llama-3.1-8b-instruct", "input_tokens": 100, "output_tokens": 10}}


def parse(raw, catalog):
    return parse_workflow(raw, source_of=lambda o: f"conf/workflow/{o}.yaml",
                          llm_ids=frozenset(catalog.llms), option="w")


@pytest.mark.parametrize("raw, needle", [
    ({"name": "w"}, "exactly one of program, traces and members"),
    ({"name": "w", "program": CALL, "traces": {"path": "x"}}, "exactly one of"),
    ({"name": "w", "program": CALL, "rate": 3}, "unknown key(s) rate"),
    ({"name": "w", "traces": {"path": "???"}}, "traces.path must name"),
    ({"name": "w", "traces": {"path": "x", "format": "csv"}}, "unknown trace format"),
    ({"name": "w", "members": {"a": {"name": "a", "program": CALL, "weight": 0}}},
     "members.a.weight: a member's rate weight must be a number > 0"),
    ({"name": "w", "members": {"a": "rag"}}, "a member must be a workflow config"),
    # names become folder names (outputs/<name>/, traces/<name>.jsonl) and words in manifests
    ({"name": "w\ntrust-remote-code: true", "program": CALL},
     "name: a workflow name is not a valid name"),
    ({"name": "../../x", "program": CALL}, "name: a workflow name is not a valid name"),
    ({"name": "w", "members": {"a/../b": {"program": CALL}}},
     "a workflow name is not a valid name: it must be 1-63"),
    ({"name": "w", "traces": {"path": "x", "llm_map": {"gpt": "$(reboot)"}}},
     "traces.llm_map.gpt: an llm id is not a valid name"),
])
def test_bad_workflow_specs(catalog, raw, needle):
    with pytest.raises(WorkflowError) as info:
        parse(raw, catalog)
    assert needle in str(info.value) and str(info.value).startswith("conf/workflow/")


def test_mix_is_analysed_per_member_and_pooled_by_weight(catalog):
    other = {"call": {"llm": "qwen2.5-7b-instruct", "input_tokens": 100, "output_tokens": 10}}
    spec = parse({"name": "w", "members": {
        "one": {"name": "one", "program": CALL, "weight": 3},
        "two": {"name": "two", "program": {"seq": [CALL, other]}, "weight": 1}}}, catalog)
    analysis, tables = analyze_workflow(spec, AnalyzeSettings(400, 0, WORK), catalog)
    assert [m.rate_fraction for m in analysis.members] == [0.75, 0.25]
    assert set(tables) == {"one", "two"}
    combined = analysis.combined
    # Pooled 400 'one' requests with 133 'two' requests: 8B is called once by both.
    assert combined.num_requests == 400 + 133
    assert combined.llm("llama-3.1-8b-instruct").calls_per_request.mean == 1
    assert combined.llm("qwen2.5-7b-instruct").calls_per_request.mean == pytest.approx(
        133 / 533)
    document = analysis_to_json(analysis)
    assert set(document["workflows"]) == {"one", "two"}
    assert set(document["llms"]) == {"llama-3.1-8b-instruct", "qwen2.5-7b-instruct"}
    assert document["work_estimate"]["llama-3.1-8b-instruct"]["tp"] == 1


def test_recorded_traces_keep_measured_times_and_map_llms(catalog):
    spec = parse({"name": "w", "traces": {
        "path": str(DATA / "metagpt" / "metagpt_log_3_round.jsonl"), "format": "metagpt",
        "options": {"llm_from": "role"}, "llm_map": {"engineer": "coder"}}}, catalog)
    analysis, _ = analyze_workflow(spec, AnalyzeSettings(10, 0, WORK), catalog)
    stats = analysis.combined
    assert stats.duration_model == "recorded"
    assert {s.llm for s in stats.llms} == {"architect", "coder", "reviewer"}
    coder, reviewer = stats.llm("coder"), stats.llm("reviewer")
    assert coder.calls_per_request.mean == 16 and reviewer.calls_per_request.mean == 8
    # Rounds are barriers: one architect, one coder per coding round, one reviewer on the path.
    assert coder.critical_path_weight == 2 and reviewer.critical_path_weight == 1
    assert stats.llm("architect").critical_path_weight == 1
    assert 1 < coder.parallelism <= 8


def test_missing_trace_file_is_a_trace_error(catalog, tmp_path):
    spec = parse({"name": "w", "traces": {"path": str(tmp_path / "none.jsonl")}}, catalog)
    with pytest.raises(TraceError, match="does not exist"):
        analyze_workflow(spec, AnalyzeSettings(10, 0, WORK), catalog)


def test_recorded_calls_beyond_the_llms_context_are_refused(catalog, tmp_path):
    limit = catalog.llms["llama-3.1-8b-instruct"].max_context_tokens
    trace = tmp_path / "t.jsonl"
    trace.write_text("".join(
        f'{{"request_id": "r{i}", "call_id": "c", "llm": "gpt", "start_s": 0, "end_s": 1, '
        f'"input_tokens": {tokens}, "output_tokens": 1}}\n'
        for i, tokens in enumerate([limit - 1, limit])))
    fits = parse({"name": "w", "traces": {"path": str(trace), "llm_map": {"gpt": "other"}}},
                 catalog)
    analyze_workflow(fits, AnalyzeSettings(10, 0, WORK), catalog)  # not a catalog llm: no limit
    spec = parse({"name": "w", "traces": {"path": str(trace),
                                          "llm_map": {"gpt": "llama-3.1-8b-instruct"}}}, catalog)
    with pytest.raises(TraceError) as info:
        analyze_workflow(spec, AnalyzeSettings(10, 0, WORK), catalog)
    assert str(info.value).startswith(f"{trace}: input_tokens: 1 call(s) of llama-3.1-8b-instruct "
                                      f"do not fit its context window of {limit:,} tokens, e.g. "
                                      f"request 'r1' with {limit:,} input and 1 output tokens")
