"""Cluster topology and TP rules: which GPUs a TP group may take, and which TP degrees an
llm can be sharded over.

These are the rules every allocation and placement obeys: the search's configurations, the
placers, the MILP, the verifier and emit's checks all call them.
"""

from __future__ import annotations

import functools

from scepsy_opt.core.types import LlmSpec, NodeSpec


def tp_problem(llm: LlmSpec, tp: int) -> str:
    """Why ``llm`` cannot be sharded over ``tp`` GPUs ("" when it can), as vLLM requires."""
    if tp < 1:
        return f"TP degree {tp} is not a positive number of GPUs"
    if llm.num_attention_heads % tp:
        return (f"{llm.id} has {llm.num_attention_heads} attention heads, not divisible by "
                f"TP {tp}")
    if llm.num_kv_heads % tp and tp % llm.num_kv_heads:
        return (f"{llm.id} has {llm.num_kv_heads} KV heads: TP {tp} neither divides them nor is "
                f"a multiple of them")
    return ""


@functools.cache
def tp_domains(node: NodeSpec) -> tuple[tuple[int, ...], ...]:
    """The node's TP domains: its NVLink domains, or the whole node when it has no NVLink
    (cached: the placers ask for every node at every instance they place)."""
    if any(len(d) > 1 for d in node.nvlink_domains):
        return tuple(tuple(sorted(d)) for d in node.nvlink_domains)
    return (tuple(range(node.num_gpus)),)
