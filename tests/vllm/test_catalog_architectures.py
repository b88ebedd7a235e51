"""The catalog's architecture numbers against the real implementations (transformers, vLLM)."""

import pytest

from scepsy_opt.core.resources import data_dir

pytestmark = pytest.mark.vllm


def _llms(catalog):
    return sorted(catalog.llms)


@pytest.fixture(scope="module")
def torch_meta():
    torch = pytest.importorskip("torch")
    return torch.device("meta")


def test_every_config_instantiates_with_the_stated_parameter_count(catalog, torch_meta):
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    for llm_id in _llms(catalog):
        llm = catalog.llms[llm_id]
        config = AutoConfig.from_pretrained(data_dir("models") / llm_id)
        with torch_meta:
            if llm.architecture == "Qwen2ForProcessRewardModel":
                # transformers has no class for the reward head: count the trunk, add the head
                # (Linear hidden->hidden, ReLU, Linear hidden->2).
                model = AutoModel.from_config(config)
                head = llm.hidden_size * llm.hidden_size + llm.hidden_size + 2 * llm.hidden_size + 2
            else:
                model = AutoModelForCausalLM.from_config(config)
                assert type(model).__name__ == llm.architecture
                head = 0
        count = sum(p.numel() for p in model.parameters()) + head
        assert count == llm.parameters, llm_id
