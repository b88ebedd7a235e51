"""Bad input files through the CLI, one per defect they used to show: each exits 2 with one
error line naming the file and the field, no traceback, and writes nothing but Hydra's config
and log, inside outputs/ (the run's working directory is a fresh folder)."""

import json
import math

import pytest
import yaml

LLM = "llama-3.2-3b-instruct"


def _yaml(value) -> str:
    return yaml.safe_dump(value, allow_unicode=True)


def _json_line(record) -> str:
    return json.dumps(record)  # NaN and Infinity as Python writes them (json.loads reads them)


def _call(**tokens):
    return {"call": {"llm": LLM, "input_tokens": 10, "output_tokens": 1, **tokens}}


# files, arguments, and how the error must begin (the file, and the field where it has one)
CLI_CASES = {
    "name": ({"workflow/w.yaml": _yaml({"name": "x\ntrust-remote-code: true",
                                        "program": _call()})},
             "+workflow=w", "{conf}/workflow/w.yaml: name: a workflow name is not a valid name"),
    "tokens": ({"workflow/w.yaml": _yaml({"name": "w", "program": _call(input_tokens=1e19)})},
               "+workflow=w", "{conf}/workflow/w.yaml: program.call.input_tokens: token counts "
                              "above 1,000,000,000"),
    "loop": ({"workflow/w.yaml": _yaml({"name": "w", "program": {"loop": {
        "count": 10**9, "body": _call()}}})}, "+workflow=w",
        "{conf}/workflow/w.yaml: program: the program samples about 5e+09 calls"),
    "cluster": ({"cluster/c.yaml": _yaml({"name": "c", "node_groups": [
        {"name": "n$(touch /tmp/pwn)", "count": 1, "gpu": "H100-SXM-80GB"}]})},
                "+workflow=rag_reranker cluster=c",
                "{conf}/cluster/c.yaml: node_groups[0].name: a node group name is not a valid"),
    "trace": ({"t.jsonl": _json_line({"request_id": "r", "call_id": "c", "llm": LLM,
                                      "start_s": 0, "end_s": 1, "input_tokens": 1e19})},
              "+workflow=traces workflow.traces.path={conf}/t.jsonl",
              "{conf}/t.jsonl:1: input_tokens: token counts must be integers"),
    "binary": ({"workflow/w.yaml": "name: w\nprogram: \udcff\n"}, "+workflow=w",
               "{conf}/workflow/w.yaml: not UTF-8 text"),
    "escape": ({"workflow/w.yaml": _yaml({"name": "../../escaped", "program": _call()})},
               "+workflow=w", "{conf}/workflow/w.yaml: name: a workflow name is not a valid"),
    "interpolation": ({"workflow/w.yaml": _yaml({"name": "w", "program": _call(
        input_tokens="${oops}")})}, "+workflow=w",
        "{conf}/workflow/w.yaml: workflow.program.call.input_tokens: an interpolation does not "
        "resolve"),
    "fanout0": ({"workflow/w.yaml": _yaml({"name": "w", "program": {"par": {
        "count": 0, "body": _call()}}})}, "+workflow=w",
        "{conf}/workflow/w.yaml: the requests hold no llm calls"),
    "nan_tokens": ({"t.jsonl": _json_line({"request_id": "r", "call_id": "c", "llm": LLM,
                                           "start_s": 0, "end_s": 1,
                                           "output_tokens": math.nan})},
                   "+workflow=traces workflow.traces.path={conf}/t.jsonl",
                   "{conf}/t.jsonl:1: output_tokens: token counts must be integers"),
    "negative_start": ({"t.jsonl": _json_line({"request_id": "r", "call_id": "c", "llm": LLM,
                                               "start_s": -5, "end_s": 1})},
                       "+workflow=traces workflow.traces.path={conf}/t.jsonl",
                       "{conf}/t.jsonl: start_s: request 'r' call 'c' has a time that is not "
                       "finite seconds in [0, 1e+12]"),
    "trace_binary": ({"t.jsonl": '{"request_id": "\udcff"}\n'},
                     "+workflow=traces workflow.traces.path={conf}/t.jsonl",
                     "{conf}/t.jsonl:1: not UTF-8 text: the byte(s) ff"),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_a_bad_input_file_fails_cleanly(cli, tmp_path, case):
    files, args, start = CLI_CASES[case]
    conf = tmp_path / "conf"
    for name, text in files.items():
        (conf / name).parent.mkdir(parents=True, exist_ok=True)
        (conf / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    work = tmp_path / "work"
    work.mkdir()
    result = cli(*args.format(conf=conf).split(), f"hydra.searchpath=[file://{conf}]",
                 "analyze.num_requests=5", cwd=work)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {start.format(conf=conf)}")
    assert "Fix: " in result.stderr
    # Hydra's run folder holds its config and log, no artifact; nothing outside outputs/
    written = sorted(p.relative_to(work) for p in work.rglob("*") if p.is_file())
    assert all(p.parts[0] == "outputs" and (p.parts[3] == ".hydra" or p.name == "scepsy_opt.log")
               for p in written), written
    assert not (tmp_path / "pwn").exists()

