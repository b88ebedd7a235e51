"""The tiny test llms run in vLLM on CPU with dummy weights, as the profile stage will run them."""

import gc
import os

import pytest

from scepsy_opt.core.resources import data_dir

pytestmark = pytest.mark.vllm

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


@pytest.mark.parametrize("llm_id", ["tiny-llama-2l", "tiny-qwen2-2l"])
def test_tiny_llm_generates_with_dummy_weights(catalog, llm_id):
    from vllm import LLM, SamplingParams

    spec = catalog.llms[llm_id]
    assert spec.test_only and spec.has_vllm_config
    engine = LLM(model=str(data_dir("models") / llm_id), load_format="dummy",
                 skip_tokenizer_init=True, enforce_eager=True, max_model_len=512, seed=0)
    try:
        prompts = [{"prompt_token_ids": list(range(1, 33))}, {"prompt_token_ids": [7, 8, 9]}]
        outputs = engine.generate(
            prompts, SamplingParams(max_tokens=12, ignore_eos=True, detokenize=False),
            use_tqdm=False)
        assert [len(o.prompt_token_ids) for o in outputs] == [32, 3]
        for output in outputs:
            tokens = output.outputs[0].token_ids
            assert len(tokens) == 12
            assert all(0 <= t < spec.vocab_size for t in tokens)
        config = engine.llm_engine.model_config.hf_config
        assert config.num_hidden_layers == spec.num_layers
        assert config.hidden_size == spec.hidden_size
    finally:
        del engine
        gc.collect()
