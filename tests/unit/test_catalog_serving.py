"""The serving overrides of catalog llms (``serving:`` in ``spec.yaml``): typed, validated, and
required where vLLM would otherwise serve a score or reward llm as an embedding model."""

import pytest

from scepsy_opt.core.catalog import load_yaml, parse_llm_spec
from scepsy_opt.core.errors import CatalogError
from scepsy_opt.core.resources import data_dir

RERANKER = "bge-reranker-v2-gemma"
OVERRIDES = {"architectures": ["GemmaForSequenceClassification"],
             "classifier_from_token": ["Yes"], "method": "no_post_processing"}


def _spec(**serving):
    raw = dict(load_yaml(data_dir("models") / RERANKER / "spec.yaml"))
    if serving.pop("drop", False):
        raw.pop("serving")
    else:
        raw["serving"] = serving
    return raw


def _parse(raw):
    return parse_llm_spec(raw, "spec.yaml", folder=RERANKER, has_vllm_config=True)


def test_the_reranker_carries_vllms_documented_overrides(catalog):
    serving = catalog.llms[RERANKER].serving
    assert serving.hf_overrides == OVERRIDES  # vLLM's supported-models note for the checkpoint
    assert "vllm" in serving.source
    hash(catalog.llms[RERANKER])  # specs stay hashable (the simulator caches by them)
    assert all(not llm.serving.hf_overrides for llm in catalog.llms.values()
               if llm.id != RERANKER)


@pytest.mark.parametrize("raw, needle", [
    (_spec(drop=True), "a score llm served as GemmaForCausalLM becomes an embedding model"),
    (_spec(hf_overrides={"method": "no_post_processing"}, source="https://docs.vllm.ai"),
     "becomes an embedding model"),
    (_spec(hf_overrides=OVERRIDES), "serving.source: serving overrides must cite"),
    (_spec(hf_overrides=OVERRIDES, source="x", extra=1), "serving must be a mapping of"),
    (_spec(hf_overrides=["architectures"], source="x"), "hf_overrides must be a mapping"),
    (_spec(hf_overrides={**OVERRIDES, "architectures": "Gemma"}, source="x"),
     "architectures must be a non-empty list"),
    (_spec(hf_overrides={**OVERRIDES, "logit_scale": float("nan")}, source="x"),
     "hf_overrides is not plain JSON"),
])
def test_bad_serving_overrides_are_refused(raw, needle):
    with pytest.raises(CatalogError) as error:
        _parse(raw)
    assert needle in str(error.value) and "spec.yaml" in str(error.value)
    assert "Fix:" in str(error.value)


def test_overrides_are_kept_in_a_canonical_form():
    one = _parse(_spec(hf_overrides=OVERRIDES, source="x")).serving
    again = _parse(_spec(hf_overrides=dict(reversed(OVERRIDES.items())), source="x")).serving
    assert one == again and one.hf_overrides == OVERRIDES
