"""The Kubernetes manifests against what a cluster enforces beyond the offline schemas: names
and label values the API server accepts."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

import scepsy_opt.emit
from scepsy_opt.core.errors import EmitError
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.names import check_dns_label, check_label_value, dns_label
from scepsy_opt.core.types import ClusterSpec, NodeSpec
from scepsy_opt.emit import EmitSettings, emit
from scepsy_opt.emit.kubernetes import KubernetesEmitter, validate_object
from scepsy_opt.emit.kubernetes_gpu import check_selector
from scepsy_opt.emit.record import launch_plan
from scepsy_opt.emit.settings import KubernetesOptions
from scepsy_opt.testing.emit import GPU, h100_cluster, instance, mps_plan, multi_node_plan

MEMORY = MemorySettings()
K8S = EmitSettings(formats=("kubernetes",))


def documents(files: dict[str, str]) -> list[dict]:
    return [d for path, text in files.items() if path.endswith(".yaml")
            for d in yaml.safe_load_all(text) if d]


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


# ------------------------------------------------------------------------- GPUs through DRA

ATTRIBUTES = json.loads((Path(scepsy_opt.emit.__file__).parent / "schemas"
                         / "nvidia-dra-gpu-attributes.json").read_text())
SELECTED = re.compile(r'device\.attributes\[["\']([^"\']+)["\']\]\.(\w+)')


def two_node_plan(catalog):
    """node-0: two llms MPS-sharing GPU 0 beside a whole-GPU TP-2 group; node-1: whole GPUs
    only."""
    return (instance(catalog, "llama-3.1-8b-instruct", 0, "node-0", (0,), 0.5),
            instance(catalog, "qwen2.5-7b-instruct", 0, "node-0", (0,), 0.5),
            instance(catalog, "qwen2.5-14b-instruct", 0, "node-0", (2, 3), 1.0),
            instance(catalog, "llama-3.1-8b-instruct", 1, "node-1", (0,), 1.0))


def kubernetes_files(catalog, planned, nodes=1):
    return emit(planned, h100_cluster(nodes), catalog, MEMORY, K8S, workflow="w",
                source="p").by_format("kubernetes")


def claims_of(files):
    return {d["metadata"]["name"]: d for d in documents(files)
            if d["kind"] in ("ResourceClaim", "ResourceClaimTemplate")}


def pods_of(files):
    """(instance name, pod spec, container) of every instance's Deployment."""
    return [(d["metadata"]["name"], d["spec"]["template"]["spec"],
             d["spec"]["template"]["spec"]["containers"][0])
            for d in documents(files)
            if d["kind"] == "Deployment" and "scepsy-opt/llm" in d["metadata"]["labels"]]


def test_every_selector_reads_an_attribute_the_targeted_driver_publishes(catalog):
    plans = [kubernetes_files(catalog, mps_plan(catalog)),
             kubernetes_files(catalog, two_node_plan(catalog), 2)]
    seen = []
    for files in plans:
        for claim in claims_of(files).values():
            spec = claim["spec"].get("spec", claim["spec"])
            for request in spec["devices"]["requests"]:
                for selector in request["exactly"].get("selectors", []):
                    seen += SELECTED.findall(selector["cel"]["expression"])
    assert seen
    for domain, name in seen:
        assert name in ATTRIBUTES["attributes"].get(domain, []), (domain, name)
    # the selector the emitter wrote before: the driver no longer publishes a GPU index
    old = SELECTED.findall('device.attributes["gpu.nvidia.com"].index == 3')
    assert old == [("gpu.nvidia.com", "index")]
    assert "index" not in ATTRIBUTES["attributes"]["gpu.nvidia.com"]
    with pytest.raises(EmitError, match="gpu.nvidia.com/index"):
        check_selector('device.attributes["gpu.nvidia.com"].index == 3', source="x")


def test_a_shared_tp_group_is_one_claim_with_a_count_and_mps_sharing(catalog):
    files = kubernetes_files(catalog, mps_plan(catalog))
    claims = claims_of(files)
    plan = emit(mps_plan(catalog), h100_cluster(), catalog, MEMORY, K8S, workflow="w",
                source="p").plan
    records = {dns_label(r.name): r for r in plan.records}
    users: dict[str, list] = {}
    for name, pod, container in pods_of(files):
        record = records[name]
        assert len(pod["resourceClaims"]) == 1 and container["resources"]["claims"] == [
            {"name": pod["resourceClaims"][0]["name"]}]
        reference = pod["resourceClaims"][0]
        if record.mechanism == "mps":
            claim = claims[reference["resourceClaimName"]]
            (request,) = claim["spec"]["devices"]["requests"]
            assert request["exactly"]["allocationMode"] == "ExactCount"
            assert request["exactly"]["count"] == record.tp
            (config,) = claim["spec"]["devices"]["config"]
            assert config["opaque"]["parameters"]["kind"] == "GpuConfig"
            assert config["opaque"]["parameters"]["sharing"]["strategy"] == "MPS"
            users.setdefault(reference["resourceClaimName"], []).append(record)
            env = {e["name"]: e["value"] for e in container["env"]}
            assert env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"].count("=") == record.tp
        else:
            template = claims[reference["resourceClaimTemplateName"]]
            assert template["kind"] == "ResourceClaimTemplate"
            (request,) = template["spec"]["spec"]["devices"]["requests"]
            assert request["exactly"]["count"] == record.tp
            assert "config" not in template["spec"]["spec"]["devices"]
    # one claim per shared group: its pods are on the same GPUs
    assert sorted(len(v) for v in users.values()) == [1, 2, 2]
    for group in users.values():
        assert len({(r.node, r.gpus) for r in group}) == 1


def test_one_gpu_mechanism_per_node(catalog):
    files = kubernetes_files(catalog, two_node_plan(catalog), 2)
    by_node: dict[str, set] = {}
    for _, pod, container in pods_of(files):
        node = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0]
        plugin = any(k.startswith("nvidia.com/") for k in container["resources"]["limits"])
        dra = bool(pod.get("resourceClaims"))
        assert plugin != dra
        by_node.setdefault(node, set()).add("dra" if dra else "device-plugin")
    assert by_node == {"node-0": {"dra"}, "node-1": {"device-plugin"}}
    readme = files["README.md"]
    assert "| node-0 | dra |" in readme and "| node-1 | device-plugin |" in readme
    for path, text in files.items():
        if path.endswith(".yaml"):
            for document in yaml.safe_load_all(text):
                if document:
                    validate_object(document, "1.34", source=path)


def test_the_readme_names_the_driver_version_and_feature_gate(catalog):
    readme = kubernetes_files(catalog, mps_plan(catalog))["README.md"]
    assert "featureGates.MPSSupport=true" in readme and "v0.5.0" in readme
    assert ATTRIBUTES["commit"][:12] in readme
    whole = (instance(catalog, "llama-3.1-8b-instruct", 0, "node-0", (0,), 1.0),)
    plain = kubernetes_files(catalog, whole)["README.md"]
    assert "MPSSupport" not in plain and "| node-0 | device-plugin |" in plain


def test_overlapping_shared_groups_are_one_claim_and_each_pod_picks_its_gpus(catalog):
    """The default run's shape: a TP-8 group at 0.75 beside two TP-4 groups at 0.25 on its
    GPUs 0-3 and 4-7 is one claim of 8 GPUs (one MPS daemon); the TP-4 pods select their half
    by position in the claim, the TP-8 pod sees all of it."""
    planned = (instance(catalog, "llama-3.1-70b-instruct", 0, "node-0", tuple(range(8)), 0.75),
               instance(catalog, "llama-3.2-3b-instruct", 0, "node-0", (0, 1, 2, 3), 0.25),
               instance(catalog, "bge-reranker-v2-gemma", 0, "node-0", (4, 5, 6, 7), 0.25))
    files = kubernetes_files(catalog, planned)
    claims = claims_of(files)
    assert list(claims) == ["gpus-node-0-0-1-2-3-4-5-6-7"]
    (request,) = claims["gpus-node-0-0-1-2-3-4-5-6-7"]["spec"]["devices"]["requests"]
    assert request["exactly"]["count"] == 8
    visible = {}
    for name, pod, container in pods_of(files):
        assert pod["resourceClaims"] == [{"name": "gpus", "resourceClaimName":
                                          "gpus-node-0-0-1-2-3-4-5-6-7"}]
        env = {e["name"]: e["value"] for e in container["env"]}
        visible[name] = env.get("CUDA_VISIBLE_DEVICES")
        if visible[name] is not None:
            assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert visible == {"llama-3-1-70b-instruct-0": None,
                       "llama-3-2-3b-instruct-0": "0,1,2,3",
                       "bge-reranker-v2-gemma-0": "4,5,6,7"}
    # a TP-1 instance on the second GPU of a shared TP-2 group: position 1 of the claim
    planned = (instance(catalog, "qwen2.5-14b-instruct", 0, "node-0", (6, 7), 0.5),
               instance(catalog, "llama-3.1-8b-instruct", 0, "node-0", (7,), 0.5),
               instance(catalog, "qwen2.5-7b-instruct", 0, "node-0", (3,), 0.5))
    files = kubernetes_files(catalog, planned)
    assert sorted(claims_of(files)) == ["gpus-node-0-3", "gpus-node-0-6-7"]
    env = {n: {e["name"]: e["value"] for e in c["env"]} for n, _, c in pods_of(files)}
    assert env["llama-3-1-8b-instruct-0"]["CUDA_VISIBLE_DEVICES"] == "1"
    assert "CUDA_VISIBLE_DEVICES" not in env["qwen2-5-14b-instruct-0"]


# ------------------------------------------------------------------------- production basics

def workload(files, instance_name):
    return next(d for d in yaml.safe_load_all(files[f"{instance_name}.yaml"]) if d)


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def test_gated_llms_read_the_token_from_the_secret(catalog):
    files = kubernetes_files(catalog, mps_plan(catalog))
    gated = workload(files, "llama-3-1-8b-instruct-0")["spec"]["template"]["spec"]
    (download,) = [c for c in gated["initContainers"] if c["name"] == "download-model"]
    assert env_of(download)["HF_TOKEN"]["valueFrom"] == {
        "secretKeyRef": {"name": "hf-token", "key": "token"}}
    assert "HF_TOKEN" not in env_of(gated["containers"][0])  # offline: reads the cache
    open_llm = workload(files, "qwen2-5-7b-instruct-0")["spec"]["template"]["spec"]
    assert all("HF_TOKEN" not in env_of(c) for c in open_llm["initContainers"]
               + open_llm["containers"])
    # without a cache vLLM downloads, with the token; the Secret's name is a setting
    options = KubernetesOptions(model_cache_pvc=None, hf_token_secret="my-hf",
                                hf_token_key="hf")
    files = emit(mps_plan(catalog), h100_cluster(), catalog, MEMORY,
                 replace(K8S, kubernetes=options), workflow="w",
                 source="p").by_format("kubernetes")
    pod = workload(files, "llama-3-1-8b-instruct-0")["spec"]["template"]["spec"]
    assert env_of(pod["containers"][0])["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "my-hf", "key": "hf"}
    assert all(c["name"] != "download-model" for c in pod.get("initContainers", []))


def test_the_model_is_downloaded_into_the_cache_before_vllm_starts(catalog):
    import huggingface_hub

    files = kubernetes_files(catalog, mps_plan(catalog))
    plan = emit(mps_plan(catalog), h100_cluster(), catalog, MEMORY, K8S, workflow="w",
                source="p").plan
    for r in plan.records:
        pod = workload(files, dns_label(r.name))["spec"]["template"]["spec"]
        assert {"name": "model-cache", "persistentVolumeClaim": {
            "claimName": "scepsy-model-cache"}} in pod["volumes"]
        download = pod["initContainers"][0]
        assert download["name"] == "download-model" and download["command"][-1] == r.hf_id
        script = download["command"][2]
        compile(script, "download", "exec")
        assert "snapshot_download" in script and hasattr(huggingface_hub, "snapshot_download")
        vllm = pod["containers"][0]
        assert env_of(vllm)["HF_HUB_OFFLINE"]["value"] == "1"
        assert env_of(vllm)["HF_HOME"]["value"] == env_of(download)["HF_HOME"]["value"] \
            == "/model-cache"
        assert {"name": "model-cache", "mountPath": "/model-cache"} in vllm["volumeMounts"]
        # the startup probe only covers loading from disk
        assert vllm["startupProbe"]["httpGet"]["path"] == "/health"
    # a checkpoint from a folder is not downloaded
    settings = replace(K8S, vllm=replace(K8S.vllm, model_root="/models"))
    files = emit(mps_plan(catalog), h100_cluster(), catalog, MEMORY, settings, workflow="w",
                 source="p").by_format("kubernetes")
    pod = workload(files, "llama-3-1-8b-instruct-0")["spec"]["template"]["spec"]
    assert all(c["name"] != "download-model" for c in pod.get("initContainers", []))
    assert "HF_TOKEN" not in env_of(pod["containers"][0])


def test_memory_limits_grow_with_the_weights_and_the_tp_workers(catalog):
    options = KubernetesOptions()
    files = kubernetes_files(catalog, mps_plan(catalog))
    plan = emit(mps_plan(catalog), h100_cluster(), catalog, MEMORY, K8S, workflow="w",
                source="p").plan
    for r in plan.records:
        resources = workload(files, dns_label(r.name))["spec"]["template"]["spec"][
            "containers"][0]["resources"]
        expected = (options.memory_gib + options.shm_gib + options.worker_memory_gib * r.tp
                    + math.ceil(catalog.llms[r.llm].weight_bytes / 2**30))
        assert resources["limits"]["memory"] == resources["requests"]["memory"] \
            == f"{expected}Gi", r.name
    limit = {r.llm: int(workload(files, dns_label(r.name))["spec"]["template"]["spec"][
        "containers"][0]["resources"]["limits"]["memory"][:-2]) for r in plan.records}
    # 70B over TP 4 holds 141 GB of weights and 4 workers: far above the shared 32 GiB of old
    assert limit["llama-3.1-70b-instruct"] == 16 + 16 + 16 + 132
    assert limit["llama-3.1-70b-instruct"] > limit["llama-3.1-8b-instruct"] > 32
    # a group over two nodes: each pod holds half the layers
    result = emit(multi_node_plan(catalog), h100_cluster(2), catalog, MEMORY,
                  EmitSettings(formats=("kubernetes", "ray_serve")), workflow="w", source="p")
    lws = workload(result.by_format("kubernetes"), "llama-3-1-70b-instruct-0")
    for role in ("leaderTemplate", "workerTemplate"):
        container = lws["spec"]["leaderWorkerTemplate"][role]["spec"]["containers"][0]
        assert container["resources"]["limits"]["memory"] == f"{16 + 16 + 32 + 66}Gi"


ROUTER = json.loads((Path(scepsy_opt.emit.__file__).parent / "schemas"
                     / "vllm-router-options.json").read_text())


def router_parser():
    """An argument parser with the recorded options of the production-stack router."""
    import argparse

    parser = argparse.ArgumentParser(exit_on_error=False)
    for option, spec in ROUTER["options"].items():
        if spec.get("flag"):
            parser.add_argument(option, action="store_true")
        else:
            parser.add_argument(option, type={"int": int, "str": str}[spec["type"]],
                                choices=spec.get("choices"))
    return parser


def test_one_entry_point_routes_every_model_to_its_instances(catalog):
    files = kubernetes_files(catalog, mps_plan(catalog))
    plan = emit(mps_plan(catalog), h100_cluster(), catalog, MEMORY, K8S, workflow="w",
                source="p").plan
    deployment, entry = [d for d in yaml.safe_load_all(files["02-router.yaml"]) if d]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["vllm-router"]
    args = router_parser().parse_args(container["args"])
    for option in ROUTER["required"] + ROUTER["required_with_static"]:
        assert getattr(args, option[2:].replace("-", "_")) is not None, option
    backends = args.static_backends.split(",")
    models = args.static_models.split(",")
    assert len(backends) == len(models) == len(plan.records)
    services = {d["metadata"]["name"]: d for d in documents(files) if d["kind"] == "Service"}
    pods = {d["metadata"]["name"]: d for d in documents(files) if d["kind"] == "Deployment"}
    for url, model in zip(backends, models, strict=True):
        host, port = url.removeprefix("http://").split(":")
        name, namespace, _ = host.split(".")
        assert namespace == "scepsy" and int(port) == services[name]["spec"]["ports"][0]["port"]
        # the backend's Service selects the Deployment of an instance serving that model
        target = services[name]["spec"]["selector"]["app.kubernetes.io/instance"]
        served = pods[target]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert served[served.index("--served-model-name") + 1] == model
    assert sorted(set(models)) == sorted(plan.llms)
    assert entry["metadata"]["name"] == "openai" and entry["spec"]["selector"] == \
        deployment["spec"]["selector"]["matchLabels"]
    assert "02-router.yaml" not in KubernetesEmitter().render(replace(plan, settings=replace(
        plan.settings, kubernetes=KubernetesOptions(router=False))))


def test_autoscalers_are_off_by_default_and_scale_whole_gpu_deployments(catalog):
    assert "HorizontalPodAutoscaler" not in {
        d["kind"] for d in documents(kubernetes_files(catalog, mps_plan(catalog)))}
    options = KubernetesOptions(autoscale_max_replicas=3)
    files = emit(mps_plan(catalog), h100_cluster(), catalog, MEMORY,
                 replace(K8S, kubernetes=options), workflow="w",
                 source="p").by_format("kubernetes")
    scalers = [d for d in documents(files) if d["kind"] == "HorizontalPodAutoscaler"]
    assert [s["spec"]["scaleTargetRef"]["name"] for s in scalers] == [
        "llama-3-1-70b-instruct-0"]
    assert scalers[0]["spec"]["maxReplicas"] == 3
    assert scalers[0]["spec"]["metrics"][0]["pods"]["metric"]["name"] == \
        "vllm_num_requests_waiting"
    for document in documents(files):
        validate_object(document, "1.34", source="strict")


@pytest.mark.parametrize("change", [{"hf_token_secret": "HF_Token"},
                                    {"model_cache_pvc": "cache/x"},
                                    {"model_cache_path": "cache"},
                                    {"worker_memory_gib": 0},
                                    {"autoscale_max_replicas": 0}])
def test_bad_production_settings_are_refused(change):
    from scepsy_opt.core.errors import ConfigError

    with pytest.raises(ConfigError, match=next(iter(change))):
        KubernetesOptions(**change)


def test_a_group_spanning_dra_nodes_claims_its_gpus_per_pod(catalog):
    """A TP-4 x 2-stage group on nodes that also host MPS instances: leader and worker pods
    each get their 4 GPUs from the group's ResourceClaimTemplate; a group whose workers mix a
    DRA and a device-plugin node is refused."""
    llama = "llama-3.1-70b-instruct"
    planned = (instance(catalog, llama, 0, "node-0", (0, 1, 2, 3), 1.0,
                        stages=(("node-1", (0, 1, 2, 3)),)),
               instance(catalog, "llama-3.1-8b-instruct", 0, "node-0", (4,), 0.5),
               instance(catalog, "llama-3.1-8b-instruct", 1, "node-1", (4,), 0.5))
    settings = EmitSettings(formats=("kubernetes", "ray_serve"))
    files = emit(planned, h100_cluster(2), catalog, MEMORY, settings, workflow="w",
                 source="p").by_format("kubernetes")
    lws = workload(files, "llama-3-1-70b-instruct-0")
    for role in ("leaderTemplate", "workerTemplate"):
        pod = lws["spec"]["leaderWorkerTemplate"][role]["spec"]
        assert pod["resourceClaims"] == [{"name": "gpus", "resourceClaimTemplateName":
                                          "llama-3-1-70b-instruct-0-gpus"}]
        assert not any(k.startswith("nvidia.com/") for k in
                       pod["containers"][0]["resources"]["limits"])
    assert claims_of(files)["llama-3-1-70b-instruct-0-gpus"]["spec"]["spec"]["devices"][
        "requests"][0]["exactly"]["count"] == 4
    for path, text in files.items():
        if path.endswith(".yaml"):
            for document in yaml.safe_load_all(text):
                if document:
                    validate_object(document, "1.34", source=path)
    mixed = (instance(catalog, llama, 0, "node-0", (0, 1, 2, 3), 1.0,
                      stages=(("node-1", (0, 1, 2, 3)), ("node-2", (0, 1, 2, 3)))),
             instance(catalog, "llama-3.1-8b-instruct", 0, "node-1", (4,), 0.5))
    with pytest.raises(EmitError, match="worker nodes mix GPU mechanisms"):
        emit(mixed, h100_cluster(3), catalog, MEMORY, settings, workflow="w", source="p")
