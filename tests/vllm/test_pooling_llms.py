"""Every ``score`` and ``reward`` llm of the catalog, served from its emitted launch config, is a
cross-encoder or reward model in vLLM, never an embedding model.

The emitted ``vllm serve --config`` file (and the Kubernetes container's arguments) go through
vLLM's own parser into its ``EngineArgs`` and the model config vLLM resolves from the catalog's
``config.json`` (dummy weights, no tokenizer: nothing is downloaded or loaded). With
``runner: pooling`` alone vLLM converts a causal-LM checkpoint such as bge-reranker-v2-gemma
(``GemmaForCausalLM``) into an embedding model, whose scores are wrong; the catalog's serving
overrides (``hf-overrides``) make it the sequence classifier vLLM documents for it.
"""

from __future__ import annotations

import os

import pytest

from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.emit import emit
from scepsy_opt.emit.kubernetes import serve_args
from scepsy_opt.emit.vllm_options import load_options, serve_parser
from scepsy_opt.testing.emit import h100_cluster, instance

pytestmark = pytest.mark.vllm

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

POOLING = sorted(llm.id for llm in load_catalog().llms.values()
                 if llm.task in ("score", "reward"))


@pytest.fixture(scope="module")
def emitted(catalog, compose):
    """One instance of each pooling llm on a whole GPU, emitted with the CPU test settings
    (the catalog's config.json, dummy weights, no tokenizer)."""
    _, settings = compose("rag_reranker", "emit=cpu_test")
    plan = tuple(instance(catalog, llm, 0, "node-0", (i,), 1.0)
                 for i, llm in enumerate(POOLING))
    result = emit(plan, h100_cluster(), catalog, settings.profile.memory, settings.emit,
                  workflow="pooling", source="fixed plan")
    options = load_options()["options"]
    return {r.llm: (result.by_format("vllm")[f"node-0/{r.name}.yaml"],
                    serve_args(r, 8000, options))
            for r in result.plan.records}


def test_the_catalog_has_score_and_reward_llms():
    assert {load_catalog().llms[llm].task for llm in POOLING} == {"score", "reward"}


@pytest.mark.parametrize("form", ["vllm config", "kubernetes args"])
@pytest.mark.parametrize("llm", POOLING)
def test_vllm_serves_the_llm_as_its_task(catalog, emitted, llm, form, tmp_path):
    from vllm.engine.arg_utils import EngineArgs

    text, container_args = emitted[llm]
    path = tmp_path / f"{llm}.yaml"
    path.write_text(text)
    argv = ["--config", str(path)] if form == "vllm config" else container_args
    args = serve_parser().parse_args(argv)
    if form == "kubernetes args":
        args.model = args.model_tag  # vllm serve's positional model
    config = EngineArgs.from_cli_args(args).create_model_config()
    assert config.runner_type == "pooling"
    assert config.convert_type != "embed", f"{llm} would be served as an embedding model"
    if catalog.llms[llm].task == "score":
        # a cross-encoder: vLLM's score API runs the classifier on each (query, passage) pair
        assert config.convert_type == "classify"
        assert config.architecture.endswith("ForSequenceClassification")
        assert config.score_type == "cross-encoder"
    else:
        # vLLM's own reward model class, not a converted causal LM
        assert config.convert_type == "none"
        assert config.architecture.endswith("RewardModel")
    assert config.hf_config.num_hidden_layers == catalog.llms[llm].num_layers
