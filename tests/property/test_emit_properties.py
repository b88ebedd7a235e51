"""Every valid co-location of instances on a node emits records that keep the GPU budgets,
and one more instance on a full GPU is refused; its Kubernetes GPU claims request every used
GPU once."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scepsy_opt.core.errors import EmitError
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.emit import EmitSettings, emit
from scepsy_opt.testing.emit import h100_cluster, instance

LLMS = ("llama-3.2-3b-instruct", "bge-reranker-v2-gemma")
FRACTIONS = (0.25, 0.375, 0.5, 0.75, 1.0)
PLAN_ONLY = EmitSettings(formats=("plan",))
MEMORY = MemorySettings()

shapes = st.lists(st.tuples(st.sampled_from(LLMS), st.sampled_from(FRACTIONS),
                            st.sampled_from((1, 2))), min_size=1, max_size=10)


def first_fit(catalog, wanted):
    """Place (llm, fraction, tp) on node-0's 8 GPUs, first fit; skip what does not fit."""
    free = [1.0] * 8
    replicas: dict[str, int] = defaultdict(int)
    placed = []
    for llm, fraction, tp in wanted:
        gpus = [g for g in range(8) if free[g] >= fraction - 1e-9][:tp]
        if len(gpus) < tp:
            continue
        for g in gpus:
            free[g] -= fraction
        placed.append(instance(catalog, llm, replicas[llm], "node-0", tuple(gpus), fraction))
        replicas[llm] += 1
    return placed, free


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wanted=shapes)
def test_records_keep_every_gpu_within_its_budget(catalog, wanted):
    placed, free = first_fit(catalog, wanted)
    if not placed:
        return
    plan = emit(placed, h100_cluster(), catalog, MEMORY, PLAN_ONLY, workflow="w",
                source="p").plan
    compute: dict[int, float] = defaultdict(float)
    utilization: dict[int, float] = defaultdict(float)
    for r in plan.records:
        for g in r.gpus:
            compute[g] += r.compute_share
            utilization[g] += r.gpu_memory_utilization
    assert all(v <= 1 + 1e-9 for v in compute.values())
    assert all(v <= MEMORY.memory_utilization + 1e-9 for v in utilization.values())
    assert len({r.port for r in plan.records}) == len(plan.records)
    earlier = []
    for r in sorted(plan.records, key=lambda r: r.launch_order):
        assert set(r.waits_for) == {e.name for e in earlier if set(e.gpus) & set(r.gpus)}
        earlier.append(r)
    # one more instance on the fullest GPU, beyond what is left of it, is refused
    fullest = min(range(8), key=lambda g: free[g])
    extra = min((f for f in FRACTIONS if f > free[fullest] + 1e-9), default=None)
    if extra is not None:
        more = instance(catalog, "llama-3.2-3b-instruct", 99, "node-0", (fullest,), extra)
        with pytest.raises(EmitError, match=f"GPU {fullest} of node node-0 is over-committed"):
            emit([*placed, more], h100_cluster(), catalog, MEMORY, PLAN_ONLY, workflow="w",
                 source="p")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wanted=shapes)
def test_kubernetes_claims_cover_every_planned_gpu_once(catalog, wanted):
    """Any valid co-location on a node renders Kubernetes objects whose GPU claims request each
    used GPU exactly once (shared groups joined, whole groups per pod), and every MPS pod selects
    only GPUs of its claim."""
    import yaml

    from scepsy_opt.core.names import dns_label
    from scepsy_opt.emit.kubernetes import KubernetesEmitter

    placed, _ = first_fit(catalog, wanted)
    if not placed:
        return
    plan = emit(placed, h100_cluster(), catalog, MEMORY, PLAN_ONLY, workflow="w",
                source="p").plan
    files = KubernetesEmitter().render(plan)
    documents = [d for p, t in files.items() if p.endswith(".yaml")
                 for d in yaml.safe_load_all(t) if d]
    counts = {}
    for d in documents:
        if d["kind"] in ("ResourceClaim", "ResourceClaimTemplate"):
            devices = d["spec"].get("spec", d["spec"])["devices"]
            counts[d["metadata"]["name"]] = devices["requests"][0]["exactly"]["count"]
    used = {g for r in plan.records for g in r.gpus}
    mps = any(r.mechanism == "mps" for r in plan.records)
    assert sum(counts.values()) == (len(used) if mps else 0)
    records = {dns_label(r.name): r for r in plan.records}
    for d in documents:
        if d["kind"] != "Deployment" or "scepsy-opt/llm" not in d["metadata"]["labels"]:
            continue
        record = records[d["metadata"]["name"]]
        pod = d["spec"]["template"]["spec"]
        claims = pod.get("resourceClaims", [])
        assert len(claims) == (1 if mps else 0)  # one GPU mechanism on the node
        if not claims:
            continue
        (claim,) = claims
        size = counts[claim.get("resourceClaimName") or claim["resourceClaimTemplateName"]]
        env = {e["name"]: e.get("value") for e in pod["containers"][0].get("env", [])}
        visible = env.get("CUDA_VISIBLE_DEVICES")
        positions = [int(p) for p in visible.split(",")] if visible else list(range(size))
        assert len(positions) == record.tp == len(set(positions))
        assert all(0 <= p < size for p in positions)
