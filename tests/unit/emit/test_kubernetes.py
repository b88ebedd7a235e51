"""The Kubernetes manifests against what a cluster enforces beyond the offline schemas: names
and label values the API server accepts."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from scepsy_opt.core.errors import EmitError
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.names import check_dns_label, check_label_value
from scepsy_opt.core.types import ClusterSpec, NodeSpec
from scepsy_opt.emit import EmitSettings, emit
from scepsy_opt.emit.kubernetes import KubernetesEmitter
from scepsy_opt.emit.record import launch_plan
from scepsy_opt.emit.settings import KubernetesOptions
from scepsy_opt.testing.emit import GPU, h100_cluster, instance, mps_plan

MEMORY = MemorySettings()
K8S = EmitSettings(formats=("kubernetes",))


def documents(files: dict[str, str]) -> list[dict]:
    return [d for text in files.values() for d in yaml.safe_load_all(text) if d]


def walk_names_and_labels(document: dict):
    """(what, value) of every object name, label value and nodeAffinity value of a document."""
    def visit(node, path):
        if isinstance(node, dict):
            if isinstance(node.get("labels"), dict):
                for key, value in node["labels"].items():
                    yield "label", f"{path}.labels.{key}", value
            for key in ("matchLabels", "selector"):
                if isinstance(node.get(key), dict) and all(
                        isinstance(v, str) for v in node[key].values()):
                    for k, value in node[key].items():
                        yield "label", f"{path}.{key}.{k}", value
            if node.get("operator") == "In":
                for value in node["values"]:
                    yield "label", f"{path}.values", value
            for key, value in node.items():
                yield from visit(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from visit(value, f"{path}[{i}]")
    yield "name", "metadata.name", document["metadata"]["name"]
    yield from visit(document, document["kind"])


def test_hostile_llm_ids_give_names_and_labels_a_cluster_accepts(catalog):
    """An llm id of no letter or digit (``___``; load-time checks refuse it, so the records are
    built directly) and one of 70 characters still give valid names and label values."""
    plan = launch_plan(mps_plan(catalog), h100_cluster(), catalog, MEMORY, K8S,
                       workflow="w", source="p", context_tokens={})
    ids = {"llama-3.1-8b-instruct": "___", "qwen2.5-7b-instruct": "Q" * 70}
    records = tuple(replace(r, llm=ids.get(r.llm, r.llm), name=f"{ids.get(r.llm, r.llm)}-"
                                                                 f"{r.replica}")
                    for r in plan.records)
    files = KubernetesEmitter().render(replace(plan, records=records))
    seen = 0
    for document in documents(files):
        for kind, where, value in walk_names_and_labels(document):
            check = check_dns_label if kind == "name" else check_label_value
            check(value, what=where)
            seen += 1
    assert seen > 50
    assert "x" in {d["metadata"]["labels"].get("scepsy-opt/llm") for d in documents(files)}


def test_a_node_id_over_63_characters_is_refused_at_render_time(catalog):
    long = "node-" + "a" * 70
    cluster = ClusterSpec("long", "", (NodeSpec(long, GPU, 8, "r", (tuple(range(8)),),
                                                100.0),))
    planned = (instance(catalog, "llama-3.1-8b-instruct", 0, long, (0,), 1.0),)
    with pytest.raises(EmitError) as info:
        emit(planned, cluster, catalog, MEMORY, K8S, workflow="w", source="p")
    message = str(info.value)
    assert "emit.kubernetes.node_names" in message and long in message
    assert "not a valid Kubernetes label value" in message
    # mapped to its label value, it emits
    options = KubernetesOptions(node_names=((long, "gpu-host-1"),))
    result = emit(planned, cluster, catalog, MEMORY,
                  replace(K8S, kubernetes=options), workflow="w", source="p")
    assert "gpu-host-1" in result.by_format("kubernetes")["llama-3-1-8b-instruct-0.yaml"]


def test_a_node_label_value_with_characters_labels_cannot_hold_is_refused(catalog):
    options = KubernetesOptions(node_names=(("node-0", "rack 1/node 0"),))
    planned = (instance(catalog, "llama-3.1-8b-instruct", 0, "node-0", (0,), 1.0),)
    with pytest.raises(EmitError, match="node_names.*rack 1/node 0"):
        emit(planned, h100_cluster(), catalog, MEMORY, replace(K8S, kubernetes=options),
             workflow="w", source="p")




@pytest.mark.parametrize("namespace", ["Scepsy", "1abc", "a" * 64, "ns-", "a_b"])
def test_a_namespace_the_api_server_refuses_is_refused(namespace):
    from scepsy_opt.core.errors import ConfigError

    with pytest.raises(ConfigError, match="namespace"):
        KubernetesOptions(namespace=namespace)
    assert KubernetesOptions(namespace="a" * 63).namespace == "a" * 63
