"""Shared fate under MPS: fault domains of hand-built placements (a shared GPU, a TP group that
links the clients of its GPUs transitively, whole GPUs, MIG slices, groups across nodes),
their record in ``plan.json``, and emit's re-check of ``emit.mps.isolation``."""

from __future__ import annotations

import json

import pytest

from scepsy_opt.core.errors import ConfigError, EmitError
from scepsy_opt.core.fault_domains import Tenant, fault_domains
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.emit import EmitSettings, emit
from scepsy_opt.emit.schemas import validate_json
from scepsy_opt.emit.settings import MpsOptions
from scepsy_opt.testing.emit import h100_cluster, instance, mig_plan, mps_plan, multi_node_plan

MEMORY = MemorySettings()


def tenant(name, *gpus, node="n0", mechanism="mps"):
    return Tenant.of(name, name.rsplit("-", 1)[0], ((node, gpus),), mechanism)


def members(domains):
    return sorted(sorted(d.instances) for d in domains.domains)


# ----------------------------------------------------------------------- hand-built placements

def test_clients_of_one_gpu_share_a_fault_domain():
    found = fault_domains([tenant("a-0", 0), tenant("b-0", 0), tenant("c-0", 1)])
    assert members(found) == [["a-0", "b-0"], ["c-0"]]
    shared = found.domain_of("a-0")
    assert shared.id == 0 and shared.llms == ("a", "b") and shared.gpus == (("n0", 0),)
    assert found.max_instances == 2 and [d.instances for d in found.shared] == [("a-0", "b-0")]
    fates = {(f.node, f.gpu): f for f in found.gpus}
    assert fates[("n0", 0)].shared_fate == ("a-0", "b-0") and fates[("n0", 0)].domain == 0
    assert fates[("n0", 1)].shared_fate == ("c-0",) and fates[("n0", 1)].domain == 1


def test_a_tp_group_spanning_shared_gpus_links_their_clients_transitively():
    # t spans GPUs 0-3; x shares GPU 0 and y GPU 2 with it, so a fault of x reaches y through
    # t although x and y share no GPU; z on GPU 5 is apart, and so is w on GPU 5 of another node
    tenants = [tenant("t-0", 0, 1, 2, 3), tenant("x-0", 0), tenant("y-0", 2), tenant("z-0", 5),
               tenant("w-0", 5, node="n1")]
    found = fault_domains(tenants)
    assert members(found) == [["t-0", "x-0", "y-0"], ["w-0"], ["z-0"]]
    big = found.domain_of("x-0")
    assert big.gpus == tuple(("n0", g) for g in range(4)) and big.llms == ("t", "x", "y")
    assert found.max_instances == 3
    # a chain of TP-2 groups: p {0, 1}, q {1, 2}, r {2, 3} is one domain end to end
    chain = fault_domains([tenant("p-0", 0, 1), tenant("q-0", 1, 2), tenant("r-0", 2, 3)])
    assert members(chain) == [["p-0", "q-0", "r-0"]]


def test_whole_gpu_instances_fail_alone():
    found = fault_domains([tenant("a-0", 0, 1, 2, 3, mechanism="whole"),
                           tenant("b-0", 4, mechanism="whole"),
                           tenant("b-1", 5, mechanism="whole")])
    assert members(found) == [["a-0"], ["b-0"], ["b-1"]]
    assert found.max_instances == 1 and found.shared == ()
    assert found.domain_of("a-0").gpus == tuple(("n0", g) for g in range(4))


def test_mig_slices_are_isolated_even_on_one_gpu():
    found = fault_domains([tenant("a-0", 0, mechanism="mig"), tenant("b-0", 0, mechanism="mig"),
                           tenant("c-0", 1, mechanism="whole")])
    assert members(found) == [["a-0"], ["b-0"], ["c-0"]]
    fates = {(f.node, f.gpu): f for f in found.gpus}
    assert fates[("n0", 0)].shared_fate == () and fates[("n0", 0)].domain is None
    assert fates[("n0", 1)].shared_fate == ("c-0",)


def test_no_instances_no_domains():
    found = fault_domains([])
    assert found.domains == () and found.max_instances == 0


# ----------------------------------------------------------------------- plan.json

def _plan(catalog, make, nodes=1, **settings):
    result = emit(make(catalog), h100_cluster(nodes), catalog, MEMORY,
                  EmitSettings(formats=("plan",), **settings), workflow="t", source="fixed")
    document = json.loads(result.top_level()["plan.json"])
    validate_json(document, "plan.schema.json", source="plan.json", what="the plan")
    return document


def test_plan_json_lists_every_gpus_shared_fate_and_every_domain(catalog):
    plan = _plan(catalog, mps_plan)
    gpus = {g["gpu"]: g for g in plan["gpus"]}
    assert gpus[0]["shared_fate"] == ["llama-3.1-8b-instruct-0", "qwen2.5-7b-instruct-0"]
    assert gpus[1]["shared_fate"] == ["llama-3.1-8b-instruct-1", "bge-reranker-v2-gemma-0"]
    assert gpus[0]["fault_domain"] != gpus[1]["fault_domain"]
    assert gpus[2]["shared_fate"] == ["llama-3.1-70b-instruct-0"]
    assert len({gpus[g]["fault_domain"] for g in (2, 3, 4, 5)}) == 1
    domains = plan["fault_domains"]
    assert domains["isolation"] == [] and domains["max_instances_per_fault"] == 2
    by_id = {d["id"]: d for d in domains["domains"]}
    assert len(by_id) == 4  # GPU 0, GPU 1, the whole TP-4 group, the TP-2 group
    assert sorted(i for d in by_id.values() for i in d["instances"]) == sorted(
        i["name"] for i in plan["instances"])  # every instance in exactly one domain
    first = by_id[gpus[0]["fault_domain"]]
    assert first["llms"] == ["llama-3.1-8b-instruct", "qwen2.5-7b-instruct"]
    assert first["gpus"] == [{"node": "node-0", "gpu": 0}]
    assert by_id[gpus[6]["fault_domain"]]["gpus"] == [{"node": "node-0", "gpu": 6},
                                                      {"node": "node-0", "gpu": 7}]


def test_plan_json_of_mig_slices_and_of_a_group_across_nodes(catalog):
    plan = _plan(catalog, mig_plan, fraction_mechanism="mig")
    gpu0 = next(g for g in plan["gpus"] if g["gpu"] == 0)
    assert gpu0["shared_fate"] == [] and gpu0["fault_domain"] is None
    assert plan["fault_domains"]["max_instances_per_fault"] == 1
    plan = _plan(catalog, multi_node_plan, nodes=2)
    (domain,) = plan["fault_domains"]["domains"]
    assert {g["node"] for g in domain["gpus"]} == {"node-0", "node-1"}
    assert len(domain["gpus"]) == 16


# ----------------------------------------------------------------------- emit.mps.isolation

def test_emit_refuses_a_plan_that_breaks_the_isolation(catalog):
    with pytest.raises(EmitError) as caught:
        _plan(catalog, mps_plan, mps=MpsOptions(
            isolation=[["llama-3.1-8b-instruct", "qwen2.5-7b-instruct"]]))
    text = str(caught.value)
    assert "GPU 0 of node node-0 hosts llama-3.1-8b-instruct and qwen2.5-7b-instruct" in text
    assert "emit.mps.isolation [[llama-3.1-8b-instruct, qwen2.5-7b-instruct]]" in text
    # a single llm shares no GPU: the reranker sits beside a llama replica on GPU 1
    with pytest.raises(EmitError, match="GPU 1 of node node-0 hosts bge-reranker-v2-gemma "
                                        "and llama-3.1-8b-instruct"):
        _plan(catalog, mps_plan, mps=MpsOptions(isolation=[["bge-reranker-v2-gemma"]]))


def test_emit_records_an_isolation_the_plan_honours(catalog):
    groups = [["llama-3.1-70b-instruct"], ["qwen2.5-7b-instruct", "bge-reranker-v2-gemma"]]
    plan = _plan(catalog, mps_plan, mps=MpsOptions(isolation=groups))
    assert plan["fault_domains"]["isolation"] == groups


def test_emit_refuses_isolation_of_llms_the_plan_lacks(catalog):
    with pytest.raises(EmitError) as caught:
        _plan(catalog, mps_plan, mps=MpsOptions(isolation=[["planner", "qwen2.5-7b-instruct"]]))
    assert caught.value.field == "emit.mps.isolation"
    assert "does not have: planner" in str(caught.value)
    assert "bge-reranker-v2-gemma, llama-3.1-70b-instruct" in str(caught.value)


def test_a_mig_plan_keeps_isolated_llms_off_one_gpu_too(catalog):
    with pytest.raises(EmitError, match="GPU 0 of node node-0 hosts"):
        _plan(catalog, mig_plan, fraction_mechanism="mig",
              mps=MpsOptions(isolation=[["llama-3.1-8b-instruct", "qwen2.5-7b-instruct"]]))


def test_mps_options_check_the_groups():
    assert MpsOptions(isolation=[["a", "a", "b"]]).isolation == (("a", "b"),)
    with pytest.raises(ConfigError, match=r"isolation\[0\]: must be a non-empty list"):
        MpsOptions(isolation=["a"])


def test_a_tp_group_on_shared_gpus_makes_one_domain_in_the_plan(catalog):
    plan = (instance(catalog, "qwen2.5-14b-instruct", 0, "node-0", (0, 1, 2, 3), 0.5),
            instance(catalog, "llama-3.1-8b-instruct", 0, "node-0", (0,), 0.5),
            instance(catalog, "qwen2.5-7b-instruct", 0, "node-0", (3,), 0.5),
            instance(catalog, "llama-3.1-8b-instruct", 1, "node-0", (4,), 0.5))
    document = _plan(catalog, lambda _: plan)
    big = document["fault_domains"]["domains"][0]
    assert sorted(big["instances"]) == ["llama-3.1-8b-instruct-0", "qwen2.5-14b-instruct-0",
                                        "qwen2.5-7b-instruct-0"]
    assert [g["gpu"] for g in big["gpus"]] == [0, 1, 2, 3]
    assert document["fault_domains"]["max_instances_per_fault"] == 3


@pytest.mark.parametrize("make, mechanism", [(mps_plan, "mps"), (mig_plan, "mig")])
def test_plan_json_reads_back_into_its_typed_document(catalog, make, mechanism):
    from scepsy_opt.core.documents import PlanDocument

    plan = _plan(catalog, make, fraction_mechanism=mechanism,
                 mps=MpsOptions(isolation=[["llama-3.1-70b-instruct"]] if mechanism == "mps"
                                else []))
    document = PlanDocument.from_json(plan, "plan.json")
    assert json.dumps(document.to_json(), indent=2) == json.dumps(plan, indent=2)
    assert document.fault_domains.max_instances_per_fault == plan["fault_domains"][
        "max_instances_per_fault"]
    assert [g.fault_domain for g in document.gpus] == [g["fault_domain"] for g in plan["gpus"]]
