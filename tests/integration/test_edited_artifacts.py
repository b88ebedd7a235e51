"""Hand-edited artifacts of a run directory, re-run from with ``from_run=<dir> stage=<next>``:
each edit that breaks the document is refused with the file, the field, the value and a fix,
exit 2, no traceback, and the run directory's artifacts are left as they were."""

import json
import shutil
from pathlib import Path

import pytest

ARTIFACTS = ("workflow_stats.json", "allocation.json", "placement.json", "placement.png")


@pytest.fixture(scope="module")
def base_run(cli, tmp_path_factory) -> Path:
    """The cheapest run that writes workflow_stats.json, allocation.json and placement.json."""
    run_dir = tmp_path_factory.mktemp("edited") / "run"
    result = cli("+workflow=rag_reranker", "fit=fast", "target.rate_rps=1.0",
                 "analyze.num_requests=200", "stop_after=place", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    return run_dir


def _llm(document: dict) -> dict:
    return document["llms"]["llama-3.2-3b-instruct"]


def _set(key: str, value):
    return lambda document: _llm(document).update({key: value})


def _rename_llm(document: dict) -> None:
    document["llms"]["nope-llm"] = document["llms"].pop("llama-3.2-3b-instruct")


def _first(key: str, value):
    return lambda document: document["instances"][0].update({key: value})


CASES = [
    ("allocation.json", "place", _set("gpu", "H999"),
     ["llms.llama-3.2-3b-instruct.gpu: unknown GPU (got 'H999')", "known: A100"]),
    ("allocation.json", "place", _rename_llm, ["llms.nope-llm: unknown llm (got 'nope-llm')"]),
    ("allocation.json", "place", _set("gpu_fraction", 0),
     ["llms.llama-3.2-3b-instruct.gpu_fraction: a GPU fraction must be in (0, 1] (got 0)"]),
    ("allocation.json", "place", _set("replicas", -1),
     ["llms.llama-3.2-3b-instruct.replicas: must be an integer >= 1 (got -1)"]),
    ("allocation.json", "place", _set("tp", 3),
     ["llms.llama-3.2-3b-instruct.tp: not a tensor-parallel degree", "use one of 1, 2, 4, 8"]),
    ("allocation.json", "place", lambda d: d.update(llms={}), ["llms: the allocation has no llms"]),
    ("allocation.json", "place", None, ["allocation.json: from_run: malformed JSON"]),
    ("placement.json", "place",
     lambda d: d.update(affinity=[{"llms": ["x", "y"], "weight": 0.5}]),
     ["placement.json: affinity[0].llms: an affinity entry names an llm that is not placed"]),
    ("placement.json", "place",
     lambda d: d.update(affinity=[{"llms": ["x"], "weight": 0.5}]),
     ["placement.json: affinity[0].llms: expected a list of 2 values"]),
    ("placement.json", "emit", _first("tp", 3), ["instances[0].tp: not a tensor-parallel"]),
    ("placement.json", "emit", _first("gpu_fraction", 0),
     ["instances[0].gpu_fraction: a GPU fraction must be in (0, 1]"]),
    ("placement.json", "emit", None, ["placement.json: from_run: malformed JSON"]),
    ("workflow_stats.json", "report", lambda d: d.update(num_requests=-3),
     ["workflow_stats.json: num_requests: must be an integer >= 1 (got -3)"]),
    ("workflow_stats.json", "report", None, ["workflow_stats.json: from_run: malformed JSON"]),
]


@pytest.mark.parametrize("name, stage, edit, needles", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_an_edited_artifact_is_refused_and_nothing_is_rewritten(cli, base_run, tmp_path, name,
                                                                 stage, edit, needles):
    run_dir = tmp_path / "run"
    shutil.copytree(base_run, run_dir)
    path = run_dir / name
    if edit is None:
        path.write_text("")  # an empty file
    else:
        document = json.loads(path.read_text())
        edit(document)
        path.write_text(json.dumps(document, indent=1))
    before = {a: (run_dir / a).read_bytes() for a in ARTIFACTS}
    result = cli(f"from_run={run_dir}", f"stage={stage}", "placement.solver_preset=fast")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    assert str(path) in result.stderr and "Fix: " in result.stderr
    assert {a: (run_dir / a).read_bytes() for a in ARTIFACTS} == before
    assert not (run_dir / "manifests").exists() and not (run_dir / "report.md").exists()


def test_the_unedited_run_directory_re_runs(cli, base_run, tmp_path):
    """The oracle for the cases above: the same re-run of the unedited files succeeds."""
    run_dir = tmp_path / "run"
    shutil.copytree(base_run, run_dir)
    result = cli(f"from_run={run_dir}", "stage=place", "placement.solver_preset=fast")
    assert result.returncode == 0, result.stderr
    assert (run_dir / "report.md").is_file() and (run_dir / "manifests").is_dir()
