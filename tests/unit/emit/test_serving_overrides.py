"""Every format writes an llm's serving overrides: they are part of the engine arguments all
emitters render (:func:`scepsy_opt.emit.record.launch_plan`)."""

import json

import pytest
import yaml

from scepsy_opt.core.errors import EmitError
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.emit import emit
from scepsy_opt.emit.settings import EmitSettings, VllmOptions
from scepsy_opt.testing.emit import h100_cluster, mps_plan

RERANKER = "bge-reranker-v2-gemma-0"


def _emit(catalog, settings=None):
    return emit(mps_plan(catalog), h100_cluster(), catalog, MemorySettings(),
                settings or EmitSettings(), workflow="overrides", source="fixed plan")


def test_every_format_writes_the_rerankers_overrides(catalog):
    expected = catalog.llms["bge-reranker-v2-gemma"].serving.hf_overrides
    assert expected["architectures"] == ["GemmaForSequenceClassification"]
    result = _emit(catalog)
    record = result.plan.record(RERANKER)
    assert record.arg("runner") == "pooling" and record.arg("hf-overrides") == expected
    config = yaml.safe_load(result.by_format("vllm")[f"node-0/{RERANKER}.yaml"])
    assert config["hf-overrides"] == expected
    (deployment, *_) = yaml.safe_load_all(
        result.by_format("kubernetes")[f"{RERANKER.replace('.', '-')}.yaml"])
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert json.loads(args[args.index("--hf-overrides") + 1]) == expected
    plan = json.loads(result.top_level()["plan.json"])
    (entry,) = [i for i in plan["instances"] if i["name"] == RERANKER]
    assert entry["engine_args"]["hf-overrides"] == expected
    # llms that need none get none
    for r in result.plan.records:
        if r.llm != "bge-reranker-v2-gemma":
            assert "hf-overrides" not in dict(r.engine_args), r.name


def test_extra_arguments_cannot_override_the_catalogs(catalog):
    settings = EmitSettings(vllm=VllmOptions(extra_args=(("hf-overrides", {"x": 1}),)))
    with pytest.raises(EmitError, match="hf-overrides.*spec.yaml"):
        _emit(catalog, settings)
