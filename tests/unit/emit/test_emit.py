"""The emit stage: golden manifests of fixed plans, Kubernetes schema validation, cross-stack
consistency (broken plans are refused with a typed error), and the atomic manifests tree."""

from __future__ import annotations

import difflib
import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from scepsy_opt.core.errors import EmitError, OutputError
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.emit import EmitSettings, emit
from scepsy_opt.emit.kubernetes import validate_object
from scepsy_opt.emit.record import instances_from_json, launch_plan
from scepsy_opt.emit.settings import VllmOptions
from scepsy_opt.emit.vllm_options import load_options
from scepsy_opt.testing.emit import (
    h100_cluster,
    instance,
    mig_plan,
    mps_plan,
    multi_node_plan,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
MEMORY = MemorySettings()
CONTEXT = {"llama-3.1-8b-instruct": 6000, "qwen2.5-7b-instruct": 3000,
           "bge-reranker-v2-gemma": 600, "llama-3.1-70b-instruct": 9000,
           "qwen2.5-14b-instruct": 12000}
CASES = {
    "mps": (mps_plan, 1, EmitSettings()),
    "mig": (mig_plan, 1, EmitSettings(formats=("vllm", "kubernetes", "plan"),
                                      fraction_mechanism="mig")),
    "multi_node": (multi_node_plan, 2, EmitSettings(formats=("kubernetes", "ray_serve",
                                                             "plan"))),
}


def emitted(catalog, case: str):
    make, nodes, settings = CASES[case]
    return emit(make(catalog), h100_cluster(nodes), catalog, MEMORY, settings,
                workflow="golden", source="fixed plan", context_tokens=CONTEXT)


def all_files(result) -> dict[str, str]:
    return {**result.manifests(), **result.top_level()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_manifests_match_the_golden_files(catalog, update_golden, case):
    files = all_files(emitted(catalog, case))
    folder = GOLDEN / case
    if update_golden:
        for old in folder.rglob("*"):
            if old.is_file():
                old.unlink()
        for relative, text in files.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(text, encoding="utf-8")
    expected = {str(p.relative_to(folder)): p.read_text(encoding="utf-8")
                for p in sorted(folder.rglob("*")) if p.is_file()}
    assert sorted(files) == sorted(expected), "regenerate with pytest --update-golden"
    for relative, text in files.items():
        if text != expected[relative]:
            diff = "".join(difflib.unified_diff(expected[relative].splitlines(True),
                                                text.splitlines(True), relative, "rendered"))
            pytest.fail(f"{relative} differs from its golden file "
                        f"(pytest --update-golden rewrites it):\n{diff}")


def test_rendering_is_deterministic(catalog):
    assert all_files(emitted(catalog, "mps")) == all_files(emitted(catalog, "mps"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_kubernetes_object_validates(catalog, case):
    import kubernetes_validate

    files = emitted(catalog, case).by_format("kubernetes")
    kinds = set()
    assert "README.md" in files
    for path, text in files.items():
        if not path.endswith(".yaml"):
            continue
        for document in yaml.safe_load_all(text):
            if document is None:
                continue
            kinds.add(document["kind"])
            if document["kind"] == "LeaderWorkerSet":
                validate_object(document, "1.34", source=path)
            else:
                assert kubernetes_validate.validate(document, "1.34", strict=True) == "1.34"
    expected = {"mps": {"Namespace", "ResourceClaim", "ResourceClaimTemplate", "Deployment",
                        "Service"},
                "mig": {"Namespace", "Deployment", "Service"},
                "multi_node": {"Namespace", "LeaderWorkerSet", "Deployment", "Service"}}[case]
    assert kinds == expected


def _first(files: dict[str, str], kind: str) -> dict:
    for path, text in files.items():
        if not path.endswith(".yaml"):
            continue
        for document in yaml.safe_load_all(text):
            if document and document["kind"] == kind:
                return document
    raise AssertionError(kind)


@pytest.mark.parametrize("case, kind, break_it, needle", [
    ("mps", "Deployment", lambda d: d["spec"].update(replicaz=1), "replicaz"),
    ("mps", "Deployment",
     lambda d: d["spec"]["template"]["spec"]["containers"][0].update(ports=[{"port": 1}]),
     "containerPort"),
    ("mps", "ResourceClaim", lambda d: d["spec"]["devices"]["requests"][0].pop("name"),
     "name"),
    ("multi_node", "LeaderWorkerSet",
     lambda d: d["spec"]["leaderWorkerTemplate"].update(restartPolicy="Always"), "Always"),
    ("multi_node", "LeaderWorkerSet",
     lambda d: d["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]
     .update(imagePullPolicy=3), "imagePullPolicy"),
])
def test_the_schemas_reject_broken_objects(catalog, case, kind, break_it, needle):
    document = _first(emitted(catalog, case).by_format("kubernetes"), kind)
    validate_object(document, "1.34", source="ok")
    break_it(document)
    with pytest.raises(EmitError) as info:
        validate_object(document, "1.34", source="broken.yaml")
    assert "broken.yaml" in str(info.value) and needle in str(info.value)


def test_records_follow_the_plan(catalog):
    result = emitted(catalog, "mps")
    plan = result.plan
    headroom = 1 - MEMORY.memory_utilization
    for r in plan.records:
        share = r.gpu_fraction if r.mechanism == "mps" else 1.0
        assert r.gpu_memory_utilization == pytest.approx(share * (1 - headroom), abs=1e-4)
        assert r.arg("tensor-parallel-size") == r.tp == len(r.gpus)
        assert r.arg("max-num-seqs") == MEMORY.max_num_seqs
        assert r.arg("max-model-len") >= CONTEXT[r.llm]
        assert r.max_model_len_tokens <= catalog.llms[r.llm].max_context_tokens
        env = dict(r.env)
        assert env["CUDA_VISIBLE_DEVICES"] == ",".join(map(str, r.gpus))
        if r.mechanism == "mps":
            assert env["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] == str(round(100 * r.gpu_fraction))
            assert env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] == ",".join(
                f"{k}={r.mps_pinned_memory_mib}M" for k in range(r.tp))
        else:
            assert "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE" not in env
    assert len({(r.node, r.port) for r in plan.records}) == len(plan.records)
    by_name = {r.name: r for r in plan.records}
    # co-located instances start one after another
    assert by_name["qwen2.5-7b-instruct-0"].waits_for == ("llama-3.1-8b-instruct-0",)
    assert by_name["bge-reranker-v2-gemma-0"].waits_for == ("llama-3.1-8b-instruct-1",)
    assert by_name["bge-reranker-v2-gemma-0"].arg("runner") == "pooling"
    launch = result.by_format("vllm")["node-0/launch.sh"]
    starts = [line.split()[1] for line in launch.splitlines() if line.startswith("start ")]
    assert starts == sorted(by_name, key=lambda n: by_name[n].launch_order)
    for r in plan.records:
        config = yaml.safe_load(result.by_format("vllm")[f"node-0/{r.name}.yaml"])
        assert config == dict(r.engine_args)
    # Ray Serve cannot pin the fractional TP-2 group's ranks to GPUs 6-7: the default formats
    # write a note with the reason instead of a config (tests/unit/emit/test_ray_serve.py)
    note = result.by_format("ray_serve")["NOT_EMITTED.md"]
    assert "qwen2.5-14b-instruct-0 (GPUs [6, 7] of node node-0)" in note and "Fix:" in note
    # plan.json: every GPU's compute at most 1
    document = json.loads(result.top_level()["plan.json"])
    assert document["schema_version"] == 1
    assert all(g["compute_used"] <= 1 + 1e-9 for g in document["gpus"])
    assert {g["gpu"]: g["compute_used"] for g in document["gpus"]}[1] == pytest.approx(0.75)


def test_kubernetes_resources_follow_the_mechanism(catalog):
    files = emitted(catalog, "mps").by_format("kubernetes")
    # node-0 has MPS instances, so it is a DRA node: the whole-GPU group claims 4 GPUs too
    whole = yaml.safe_load_all(files["llama-3-1-70b-instruct-0.yaml"]).__next__()
    container = whole["spec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert whole["spec"]["template"]["spec"]["resourceClaims"] == [
        {"name": "gpus", "resourceClaimTemplateName": "llama-3-1-70b-instruct-0-gpus"}]
    assert whole["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
        "matchExpressions"][0]["values"] == ["node-0"]
    shared = next(yaml.safe_load_all(files["qwen2-5-14b-instruct-0.yaml"]))
    pod = shared["spec"]["template"]["spec"]
    assert [c["resourceClaimName"] for c in pod["resourceClaims"]] == ["gpus-node-0-6-7"]
    assert {e["name"] for e in pod["containers"][0]["env"]} == {
        "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE", "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT", "HF_HOME",
        "HF_HUB_OFFLINE"}
    mig = emitted(catalog, "mig").by_format("kubernetes")
    limits = next(yaml.safe_load_all(mig["qwen2-5-7b-instruct-0.yaml"]))["spec"]["template"][
        "spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/mig-3g.40gb"] == 1 and "nvidia.com/gpu" not in limits
    whole_mig = next(yaml.safe_load_all(mig["qwen2-5-14b-instruct-0.yaml"]))["spec"][
        "template"]["spec"]
    assert whole_mig["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "resourceClaims" not in whole_mig and "01-resource-claims.yaml" not in mig


def test_mig_instances_are_numbered_per_gpu_and_profile(catalog):
    plan = emitted(catalog, "mig").plan
    ordinals = {r.name: (r.mig_profile, r.mig_ordinal) for r in plan.records}
    assert ordinals == {"llama-3.1-8b-instruct-0": ("3g.40gb", 0),
                        "qwen2.5-7b-instruct-0": ("3g.40gb", 1),
                        "qwen2.5-14b-instruct-0": (None, None)}
    assert all(r.gpu_memory_utilization == pytest.approx(0.9) for r in plan.records)


# ------------------------------------------------------------------------- broken plans

def _over_committed(catalog):
    return (*mps_plan(catalog),
            instance(catalog, "qwen2.5-7b-instruct", 1, "node-0", (0,), 0.25))


@pytest.mark.parametrize("change, needles", [
    (_over_committed, ["GPU 0 of node node-0 is over-committed", "sum to 1.25 > 1",
                       "qwen2.5-7b-instruct-1 0.25", "Fix:"]),
    (lambda c: (instance(c, "llama-3.1-8b-instruct", 0, "node-9", (0,), 0.5),),
     ["unknown node", "'node-9'"]),
    (lambda c: (instance(c, "llama-3.1-8b-instruct", 0, "node-0", (8,), 0.5),),
     ["GPU ids outside node node-0"]),
    (lambda c: (replace(instance(c, "llama-3.1-8b-instruct", 0, "node-0", (0, 1), 1.0),
                        tp=4),), ["TP group of 4 needs 4 distinct GPUs"]),
    (lambda c: (instance(c, "llama-3.1-8b-instruct", 0, "node-0", (0,), 0.5),) * 2,
     ["listed twice"]),
    (lambda c: (instance(c, "llama-3.1-8b-instruct", 0, "node-0", (0,), 0.5,
                         mechanism="mig"),), ["enforces GPU fractions differently",
                                              "emit.fraction_mechanism=mig"]),
    (lambda c: (replace(instance(c, "llama-3.1-8b-instruct", 0, "node-0", (0,), 0.5),
                        gpu_fraction=1.5),), ["GPU fraction must be in (0, 1]"]),
    (lambda c: (replace(instance(c, "llama-3.1-8b-instruct", 0, "node-0", (0,), 0.5),
                        memory_gib_per_gpu=50.0),
                replace(instance(c, "qwen2.5-7b-instruct", 0, "node-0", (0,), 0.5),
                        memory_gib_per_gpu=50.0)), ["memory budgets sum to 100.0 GiB"]),
])
def test_broken_plans_are_refused(catalog, change, needles):
    with pytest.raises(EmitError) as info:
        emit(change(catalog), h100_cluster(), catalog, MEMORY, EmitSettings(),
             workflow="broken", source="placement.json")
    message = str(info.value)
    assert message.startswith("placement.json")
    for needle in needles:
        assert needle in message, message


def test_tp_groups_stay_inside_an_nvlink_domain(catalog):
    from scepsy_opt.core.types import ClusterSpec, NodeSpec

    pairs = ClusterSpec("pairs", "", (NodeSpec("node-0", "H100-SXM-80GB", 4, "r",
                                               ((0, 1), (2, 3)), 100.0),))
    bad = (instance(catalog, "llama-3.1-70b-instruct", 0, "node-0", (1, 2), 1.0),)
    with pytest.raises(EmitError, match="not in one NVLink domain"):
        emit(bad, pairs, catalog, MEMORY, EmitSettings(), workflow="w", source="p")


def test_a_headroom_that_leaves_no_room_is_refused(catalog):
    settings = EmitSettings(vllm=VllmOptions(memory_headroom=0.8))
    with pytest.raises(EmitError) as info:
        emit(mps_plan(catalog), h100_cluster(), catalog, MEMORY, settings, workflow="w",
             source="p")
    assert "emit.vllm.memory_headroom" in str(info.value) and "exceed" in str(info.value)


def test_extra_arguments_cannot_override_the_plan_and_must_exist(catalog):
    settings = EmitSettings(vllm=VllmOptions(extra_args=(("max-num-seqs", 8),)))
    with pytest.raises(EmitError, match="extra vLLM arguments may not set what the plan"):
        launch_plan(mps_plan(catalog), h100_cluster(), catalog, MEMORY, settings,
                    workflow="w", source="p")
    settings = EmitSettings(vllm=VllmOptions(extra_args=(("enable-prefix-caching", True),
                                                         ("no-such-option", 1))))
    with pytest.raises(EmitError, match="no-such-option: not an option of vllm serve"):
        emit(mps_plan(catalog), h100_cluster(), catalog, MEMORY, settings, workflow="w",
             source="p")


def test_a_group_spanning_nodes_needs_a_ray_cluster(catalog):
    with pytest.raises(EmitError, match="spans nodes"):
        emit(multi_node_plan(catalog), h100_cluster(2), catalog, MEMORY, EmitSettings(),
             workflow="w", source="p")


def test_the_recorded_vllm_options_cover_the_emitted_keys():
    options = load_options()["options"]
    for key in ("model", "served-model-name", "host", "port", "tensor-parallel-size",
                "gpu-memory-utilization", "max-num-seqs", "max-num-batched-tokens",
                "max-model-len", "runner", "load-format", "skip-tokenizer-init",
                "enforce-eager", "pipeline-parallel-size", "distributed-executor-backend"):
        assert key in options, key


# ------------------------------------------------------------------------- placement.json

def test_instances_round_trip_through_placement_json(catalog):
    planned = mps_plan(catalog)
    document = {"instances": [{
        "llm": i.llm, "replica": i.replica, "node": i.node, "gpus": list(i.gpus), "tp": i.tp,
        "gpu": i.gpu, "gpu_fraction": i.gpu_fraction, "compute_share": i.compute_share,
        "memory_gib_per_gpu": i.memory_gib_per_gpu, "mechanism": i.mechanism,
        "mig_profile": i.mig_profile} for i in planned]}
    assert instances_from_json(json.loads(json.dumps(document)), "p.json") == planned
    document["instances"][2]["gpus"] = "0"
    with pytest.raises(EmitError, match=r"p.json: instances\[2\].gpus"):
        instances_from_json(document, "p.json")
    with pytest.raises(EmitError, match="no 'instances' list"):
        instances_from_json({"gpus": []}, "p.json")


# ------------------------------------------------------------------------- writing

def test_the_manifests_tree_is_replaced_as_a_whole(tmp_path, monkeypatch):
    from scepsy_opt import rundir

    target = tmp_path / "manifests"
    rundir.write_tree({"vllm/a.yaml": "a: 1\n", "vllm/n/launch.sh": "#!/bin/sh\n"}, target)
    assert (target / "vllm" / "a.yaml").read_text() == "a: 1\n"
    assert (target / "vllm" / "n" / "launch.sh").stat().st_mode & 0o111
    rundir.write_tree({"kubernetes/b.yaml": "b: 2\n"}, target)
    assert sorted(p.name for p in target.rglob("*") if p.is_file()) == ["b.yaml"]

    real_replace = rundir.os.replace

    def failing(source, destination):  # the swap of the new tree fails
        if Path(destination) == target and str(source).endswith(".tmp"):
            raise OSError("disk full")
        return real_replace(source, destination)

    monkeypatch.setattr(rundir.os, "replace", failing)
    with pytest.raises(OutputError, match="manifests: cannot write"):
        rundir.write_tree({"kubernetes/c.yaml": "c: 3\n"}, target)
    assert sorted(p.name for p in target.rglob("*") if p.is_file()) == ["b.yaml"]
    assert [p.name for p in tmp_path.iterdir()] == ["manifests"]
