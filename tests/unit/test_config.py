from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from scepsy_opt.config import RunSettings
from scepsy_opt.core.errors import CatalogError, ConfigError, WorkflowError
from scepsy_opt.core.resources import data_dir

CONF = data_dir("conf")


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


WORKFLOWS = [w for w in options("workflow") if w != "traces"]
SHIPPED_WORKFLOWS = {"rag_reranker", "beam_search", "rag_beam", "map_reduce_summarization",
                     "multi_agent_coding", "react_tool_agent"}


def test_the_required_workflows_and_clusters_ship():
    assert set(WORKFLOWS) >= SHIPPED_WORKFLOWS
    assert {"dgx_h100", "dgx_h100_x2", "dgx_h100_x4", "a100_pairwise_x4", "l40s_pcie",
            "h100_x64"} <= set(options("cluster"))
    for group in ("target", "profile", "search", "placement", "emit"):
        assert options(group), group


@pytest.mark.parametrize("workflow", WORKFLOWS)
@pytest.mark.parametrize("cluster", options("cluster"))
def test_every_workflow_and_cluster_composes_and_converts(compose, workflow, cluster):
    cfg, settings = compose(workflow, f"cluster={cluster}")
    assert isinstance(settings, RunSettings)
    assert settings.workflow.name == workflow
    assert settings.cluster.name == cluster
    assert settings.workflow.llms


# Options that need a value the user supplies on the command line.
REQUIRED_OVERRIDES = {("profile", "import"): ["profile.path=tests/data/vllm_bench"]}


@pytest.mark.parametrize("group", ["target", "profile", "search", "placement", "emit"])
def test_every_option_of_every_group_converts(compose, group):
    for option in options(group):
        extra = REQUIRED_OVERRIDES.get((group, option), [])
        _, settings = compose("rag_reranker", f"{group}={option}", *extra)
        assert isinstance(settings, RunSettings)


def test_import_profile_without_a_path_is_rejected(compose):
    with pytest.raises(ConfigError, match="the import backend needs profile.path"):
        compose("rag_reranker", "profile=import")


def test_every_experiment_composes(compose):
    for option in options("experiment"):
        cfg, _ = compose("rag_reranker", f"+experiment={option}")
        assert cfg.workflow.name == "rag_reranker"


def test_search_refine_settings(compose):
    _, settings = compose("rag_reranker")
    assert (settings.search.refine, settings.search.refine_candidates) == ("none", 4)
    _, settings = compose("rag_reranker", "search.refine=simulate",
                          "search.refine_candidates=6")
    assert (settings.search.refine, settings.search.refine_candidates) == ("simulate", 6)


def test_settings_are_frozen(compose):
    _, settings = compose("rag_reranker")
    with pytest.raises(AttributeError):
        settings.target.rate_rps = 3.0  # type: ignore[misc]


def test_no_workflow_composes_without_a_workflow(compose):
    cfg, settings = compose(None)
    assert cfg.workflow is None and settings is None


def test_mix_members_and_their_weights(compose):
    _, settings = compose("rag_beam", "workflow.members.beam_search.weight=0.5")
    members = {m.name: m.weight for m in settings.workflow.members}
    assert members == {"rag_reranker": 0.8, "beam_search": 0.5}
    assert set(settings.workflow.llms) == {
        "llama-3.2-3b-instruct", "bge-reranker-v2-gemma", "llama-3.1-70b-instruct",
        "qwen2.5-7b-instruct", "qwen2.5-math-prm-7b"}


@pytest.mark.parametrize("overrides, error, needle", [
    (["target.rate_rps=0"], ConfigError, "target.rate_rps: must be > 0"),
    (["target.rate_rps=-2"], ConfigError, "target.rate_rps: must be > 0"),
    (["target.utilization_cap=1.5"], ConfigError, "utilization_cap: must be in (0, 1]"),
    (["analyze.num_requests=0"], ConfigError, "analyze.num_requests"),
    (["analyze.work_estimate.reference_gpu=B200"], ConfigError, "unknown GPU"),
    (["profile.tp_degrees=[1,3]"], ConfigError, "unsupported tensor-parallel degree"),
    (["profile.backend=magic"], ConfigError, "profile.backend: unknown option"),
    (["placement.solver_preset=nope"], ConfigError, "unknown solver preset"),
    (["search.refine=rerank"], ConfigError, "search.refine: unknown option"),
    (["search.refine_candidates=0"], ConfigError, "search.refine_candidates: must be >= 1"),
    (["placement.memory_headroom=1"], ConfigError, "placement.memory_headroom"),
    (["placement.fraction_mechanism=vgpu"], ConfigError, "placement.fraction_mechanism"),
    (["placement.exclude_nodes=[dgx-h100-07]"], ConfigError, "unknown node"),
    (["placement.pin=[{llm: llama-3.2-3b-instruct, nodes: [nope]}]"], ConfigError,
     "placement.pin[0].nodes: unknown node"),
    (["placement.hierarchical_threshold=-1"], ConfigError, "must be >= 0"),
    (["stop_after=deploy"], ConfigError, "stop_after: unknown option"),
    (["stage=place"], ConfigError, "stage: a stage re-runs from the artifacts"),
    (["from_run=somewhere"], ConfigError, "from_run: no stage to re-run"),
    (["from_run=somewhere", "stage=fit"], ConfigError, "stage: unknown option"),
    (["emit.formats=[helm]"], ConfigError, "emit.formats[0]: unknown option"),
    (["emit.formats=[]"], ConfigError, "no manifest format selected"),
    (["emit.vllm.memory_headroom=1.5"], ConfigError, "emit.vllm.memory_headroom"),
    (["emit.vllm.base_port=70000"], ConfigError, "emit.vllm.base_port: must be a TCP port"),
    (["emit.kubernetes.version='1.30'"], ConfigError, "unsupported Kubernetes version"),
    (["emit.kubernetes.namespace=Scepsy_NS"], ConfigError, "not a Kubernetes namespace"),
    (["emit.ray_serve.route_prefix=api"], ConfigError, "must start with / and contain {llm}"),
    (["placement.fraction_mechanism=mig"], ConfigError, "emit.fraction_mechanism=mig"),
])
def test_out_of_range_settings_are_rejected(compose, overrides, error, needle):
    with pytest.raises(error) as info:
        compose("rag_reranker", *overrides)
    assert needle in str(info.value) and "Fix:" in str(info.value)


def test_placement_settings_are_frozen_from_the_config(compose):
    _, settings = compose("rag_reranker", "placement.solver_preset=fast",
                          "placement.pin=[{llm: llama-3.2-3b-instruct, nodes: [dgx-h100-00]}]",
                          "emit.fraction_mechanism=mig", "placement.export_mps=true")
    placement = settings.placement
    assert settings.stop_after == "report"
    assert placement.preset.name == "fast" and placement.preset.time_limit_s == 10
    assert placement.preset.mip_rel_gap == 0.05 and placement.preset.threads == 2
    assert dict(placement.preset.options) == {"presolve": "on"}
    assert placement.pins == (("llama-3.2-3b-instruct", ("dgx-h100-00",)),)
    assert placement.fraction_mechanism == "mig"  # follows emit's by default
    assert placement.export_mps and placement.hierarchical_threshold == 2000


def test_zero_and_negative_member_rates_are_rejected(compose):
    for weight in ("0", "-1"):
        with pytest.raises(WorkflowError) as info:
            compose("rag_beam", f"workflow.members.beam_search.weight={weight}")
        message = str(info.value)
        assert "members.beam_search.weight" in message and "> 0" in message
        assert str(Path("workflow") / "rag_beam.yaml") in message


def test_unknown_keys_fail_composition(compose):
    with pytest.raises((ConfigCompositionException, ValidationError)):
        compose("rag_reranker", "target.rate=3")


def test_unknown_llm_in_a_program_names_the_node(compose):
    with pytest.raises(CatalogError) as info:
        compose("rag_reranker", "workflow.program.seq.0.call.llm=llama-3.1-8b-instruc")
    message = str(info.value)
    assert "program.seq[0].call.llm: unknown llm" in message
    assert "did you mean llama-3.1-8b-instruct" in message


@pytest.mark.parametrize("override, field", [
    ("workflow.program.seq.0.call.llm=${oops}", "workflow.program.seq[0].call.llm"),
    ("target.rate_rps=${nowhere.rate}", "target.rate_rps"),
])
def test_an_unresolved_interpolation_names_the_file_and_key(compose, override, field):
    with pytest.raises(ConfigError) as info:
        compose("rag_reranker", override)
    message = str(info.value)
    assert f": {field}: an interpolation does not resolve" in message and "Fix:" in message
    assert "(got '${" in message
    if field.startswith("workflow."):
        assert message.startswith(str(Path("workflow") / "rag_reranker.yaml")) or \
            "rag_reranker.yaml" in message.split(":")[0]


@pytest.mark.parametrize("name, folder", [
    ("rag_reranker", "rag_reranker"), ("../../x", "x"), ("a\ntrust-remote-code: true",
                                                       "a-trust-remote-code-true"),
    ("a/b", "a-b"), ("..", "name")])
def test_run_and_sweep_folders_stay_inside_their_parents(name, folder):
    from scepsy_opt.config import folder_name, run_dir

    assert folder_name(name) == folder
    assert run_dir(None, None, name, "t") == f"outputs/{folder}/t"
