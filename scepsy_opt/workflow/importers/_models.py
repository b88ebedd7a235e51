"""The one model-name rule of the importers: litellm provider prefixes are not part of the name.

litellm routes a call by a ``provider/model`` string (``anthropic/claude-haiku-4-5``,
``hosted_vllm/meta-llama/Llama-3.1-8B-Instruct``) and logs whichever spelling the caller used, so
one application's log names one model both with and without its provider
(``claude-haiku-4-5`` and ``anthropic/claude-haiku-4-5``). OpenTelemetry instrumentations and
other tools that call through litellm record the same strings. The provider says which API was
called, not which model served the call, so :func:`model_name` strips it and the two spellings
become one llm.

Stripped: a leading ``<provider>/`` whose ``<provider>`` (any case) is one of
:data:`PROVIDER_PREFIXES`, repeatedly (``openrouter/anthropic/claude-3-haiku`` is
``claude-3-haiku``). These are litellm's provider names for hosted APIs, gateways and local
servers. Any other prefix is kept: ``meta-llama/Llama-3.1-8B-Instruct`` and
``Qwen/Qwen2.5-7B-Instruct`` are Hugging Face repository ids, whose organisation is part of the
model's name.
"""

from __future__ import annotations

PROVIDER_PREFIXES = frozenset({
    "ai21", "aleph_alpha", "anthropic", "anyscale", "azure", "azure_ai", "azure_text",
    "baseten", "bedrock", "cerebras", "cloudflare", "codestral", "cohere", "cohere_chat",
    "custom_openai", "databricks", "deepinfra", "deepseek", "fireworks_ai", "friendliai",
    "gemini", "github", "groq", "hosted_vllm", "huggingface", "lm_studio", "litellm_proxy",
    "mistral", "nlp_cloud", "nvidia_nim", "ollama", "ollama_chat", "openai", "openrouter",
    "perplexity", "palm", "predibase", "replicate", "sagemaker", "sagemaker_chat",
    "text-completion-openai", "together_ai", "triton", "vertex_ai", "vertex_ai_beta", "vllm",
    "watsonx", "xai",
})


def model_name(logged: str) -> str:
    """``logged`` without its litellm provider prefixes (see the module docstring)."""
    name = logged.strip()
    while "/" in name:
        head, rest = name.split("/", 1)
        if head.lower() not in PROVIDER_PREFIXES or not rest:
            break
        name = rest
    return name
