"""The typed artifact documents: a real run's files read back and written out byte-identical,
round trips, and clear errors for a missing field, a wrong type or another schema version."""

import json
from pathlib import Path

import pytest

from scepsy_opt.core.documents import (
    DOCUMENTS,
    AllocationDocument,
    EvaluationDocument,
    PlacementDocument,
    PlanDocument,
    WorkflowStatsDocument,
)
from scepsy_opt.core.errors import ArtifactError, ScepsyError

RUN = Path(__file__).resolve().parents[1] / "data" / "run_rag_reranker"


def _read(name: str) -> tuple[str, dict]:
    text = (RUN / name).read_text()
    return text, json.loads(text)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_a_real_runs_file_reads_back_and_writes_out_byte_identical(name):
    text, value = _read(name)
    document = DOCUMENTS[name].from_json(value, str(RUN / name))
    assert json.dumps(document.to_json(), indent=2, allow_nan=False) + "\n" == text
    assert DOCUMENTS[name].from_json(document.to_json(), "again") == document


def test_the_documents_are_typed_values():
    stats = WorkflowStatsDocument.from_json(_read("workflow_stats.json")[1], "s")
    assert stats.stats.num_requests == 2000 and set(stats.workflows) == {"rag_reranker"}
    assert stats.stats.llms["llama-3.1-70b-instruct"].calls_per_request.mean == 1.0
    allocation = AllocationDocument.from_json(_read("allocation.json")[1], "a")
    assert allocation.predicted.bottleneck in allocation.llms
    assert allocation.search.trace[0].phase == "target"
    assert allocation.fit is not None and allocation.fit.workflow is not None
    planned = allocation.allocation()
    assert {a.llm: (a.tp, a.replicas) for a in planned.llms} == {
        llm: (e.tp, e.replicas) for llm, e in allocation.llms.items()}
    placement = PlacementDocument.from_json(_read("placement.json")[1], "p")
    assert placement.instances[0].gpus == (4, 5, 6, 7)
    assert placement.affinity_weights()[0][2] == placement.affinity[0].weight
    plan = PlanDocument.from_json(_read("plan.json")[1], "q")
    assert {i.llm for i in plan.instances} == set(allocation.llms)
    evaluation = EvaluationDocument.from_json(_read("evaluation.json")[1], "e")
    assert evaluation.plans["exact"].error and evaluation.plans["exact"].at_target is None
    assert evaluation.plans["planned"].at_target.e2e_latency_s.mean > 0
    # an entry keeps exactly its keys: an error-only entry writes back only its error
    assert evaluation.to_json()["plans"]["exact"] == {"error": evaluation.plans["exact"].error}


def test_a_missing_field_names_the_file_the_field_and_the_fix():
    _, value = _read("allocation.json")
    del value["llms"]["llama-3.2-3b-instruct"]["replicas"]
    with pytest.raises(ArtifactError) as caught:
        AllocationDocument.from_json(value, "/run/allocation.json")
    message = str(caught.value)
    assert message.startswith("/run/allocation.json: llms.llama-3.2-3b-instruct.replicas: "
                              "missing field")
    assert "Fix: restore allocation.json as the search stage wrote it" in message
    assert isinstance(caught.value, ScepsyError)


def test_a_wrong_type_is_refused_with_its_value():
    _, value = _read("placement.json")
    value["instances"][1]["gpus"] = "0,1"
    with pytest.raises(ArtifactError, match=r"instances\[1\]\.gpus: expected a list "
                                            r"\(got '0,1'\)"):
        PlacementDocument.from_json(value, "placement.json")
    _, value = _read("workflow_stats.json")
    value["num_requests"] = True
    with pytest.raises(ArtifactError, match="num_requests: expected an integer"):
        WorkflowStatsDocument.from_json(value, "workflow_stats.json")
    with pytest.raises(ArtifactError, match="expected a JSON object"):
        PlanDocument.from_json([1, 2], "plan.json")


def test_a_newer_or_unknown_schema_version_is_refused():
    _, value = _read("evaluation.json")
    with pytest.raises(ArtifactError, match=r"schema version 2 is newer than this scepsy_opt "
                                            r"reads \(1\).*Fix: upgrade scepsy_opt"):
        EvaluationDocument.from_json({**value, "schema_version": 2}, "evaluation.json")
    for version in (0, "1", None):
        with pytest.raises(ArtifactError, match="schema_version"):
            EvaluationDocument.from_json({**value, "schema_version": version}, "e.json")
    # another artifact in this one's place
    _, stats = _read("workflow_stats.json")
    with pytest.raises(ArtifactError, match="not the evaluation.json document"):
        EvaluationDocument.from_json(stats, "evaluation.json")


def test_serialising_writes_non_finite_numbers_as_null_and_omits_absent_keys():
    _, value = _read("allocation.json")
    del value["fit"]
    document = AllocationDocument.from_json(value, "a")
    assert document.fit is None and "fit" not in document.to_json()
    changed = document.to_json()
    changed["predicted"]["latency_s"] = None
    again = AllocationDocument.from_json(changed, "a")
    assert again.predicted.latency_s is None and again.to_json() == changed
