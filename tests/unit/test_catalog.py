import json
import shutil

import pytest

from scepsy_opt.core.catalog import expand_cluster, load_catalog, load_yaml
from scepsy_opt.core.errors import CatalogError, ConfigError
from scepsy_opt.core.resources import data_dir

REQUIRED_LLMS = {
    "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.1-8b-instruct",
    "llama-3.1-70b-instruct", "llama-3.2-3b-instruct", "qwen2.5-7b-instruct",
    "qwen2.5-14b-instruct", "qwen2.5-32b-instruct", "qwen2.5-72b-instruct",
    "mistral-7b-instruct-v0.3", "bge-reranker-v2-gemma", "qwen2.5-math-prm-7b", "qwen3-4b",
}
REQUIRED_GPUS = {"H100-SXM-80GB", "H200-141GB", "A100-SXM-80GB", "L40S-48GB"}


def architecture_parameters(llm) -> int:
    """Independent parameter count from the architecture numbers (the oracle for the data)."""
    h, heads, kv, hd = llm.hidden_size, llm.num_attention_heads, llm.num_kv_heads, llm.head_dim
    attention = h * heads * hd + 2 * h * kv * hd + heads * hd * h
    if llm.architecture.startswith("Qwen2"):
        attention += heads * hd + 2 * kv * hd  # q, k, v biases
    if llm.architecture.startswith("Qwen3"):
        attention += 2 * hd  # per-head q and k RMSNorm weights
    layer = attention + 3 * h * llm.intermediate_size + 2 * h
    total = llm.vocab_size * h + llm.num_layers * layer + h
    if llm.architecture == "Qwen2ForProcessRewardModel":
        return total + (h * h + h) + (h * 2 + 2)  # score head, no lm_head
    if not llm.tie_word_embeddings:
        total += llm.vocab_size * h
    return total


def test_the_catalog_holds_the_required_llms_and_gpus(catalog):
    assert set(catalog.llms) >= REQUIRED_LLMS
    assert set(catalog.gpus) >= REQUIRED_GPUS
    test_llms = [llm for llm in catalog.llms.values() if llm.test_only]
    assert len(test_llms) >= 2


@pytest.mark.parametrize("llm_id", sorted(REQUIRED_LLMS | {"tiny-llama-2l", "tiny-qwen2-2l"}))
def test_parameter_counts_follow_from_the_architecture(catalog, llm_id):
    llm = catalog.llms[llm_id]
    assert llm.parameters == architecture_parameters(llm)
    assert llm.weight_bytes == llm.parameters * llm.dtype_bytes


@pytest.mark.parametrize("llm_id, published", [
    ("llama-2-7b", 6_738_415_616), ("llama-3.1-8b-instruct", 8_030_261_248),
    ("llama-3.1-70b-instruct", 70_553_706_496), ("qwen2.5-7b-instruct", 7_615_616_512),
    ("qwen2.5-72b-instruct", 72_706_203_648), ("mistral-7b-instruct-v0.3", 7_248_023_552),
])
def test_published_parameter_totals(catalog, llm_id, published):
    assert catalog.llms[llm_id].parameters == published


@pytest.mark.parametrize("llm_id", sorted(REQUIRED_LLMS | {"tiny-llama-2l", "tiny-qwen2-2l"}))
def test_spec_agrees_with_its_vllm_config(catalog, llm_id):
    llm = catalog.llms[llm_id]
    assert llm.has_vllm_config
    config = json.loads((data_dir("models") / llm_id / "config.json").read_text())
    assert config["architectures"][0] == llm.architecture
    assert config["num_hidden_layers"] == llm.num_layers
    assert config["hidden_size"] == llm.hidden_size
    assert config["intermediate_size"] == llm.intermediate_size
    assert config["num_attention_heads"] == llm.num_attention_heads
    assert config.get("num_key_value_heads", llm.num_attention_heads) == llm.num_kv_heads
    assert config.get("head_dim", llm.hidden_size // llm.num_attention_heads) == llm.head_dim
    assert config["vocab_size"] == llm.vocab_size
    # transformers' default: GemmaConfig ties embeddings, Llama/Mistral/Qwen2 configs do not.
    tied_by_default = config["model_type"] == "gemma"
    assert config.get("tie_word_embeddings", tied_by_default) == llm.tie_word_embeddings


def test_kv_bytes_per_token_of_llama_3_1_8b(catalog):
    # 32 layers x 8 KV heads x 128 dims x (K and V) x 2 bytes = 128 KiB per token
    assert catalog.llms["llama-3.1-8b-instruct"].kv_bytes_per_token == 131072


def test_gpu_specs_cite_sources_and_mig_profiles(catalog):
    h100 = catalog.gpus["H100-SXM-80GB"]
    assert h100.bf16_dense_tflops == pytest.approx(989.4)
    assert h100.hbm_bandwidth_gb_s == 3350 and h100.memory_gib == 80
    assert {p.name for p in h100.mig_profiles} >= {"1g.10gb", "3g.40gb", "7g.80gb"}
    assert catalog.gpus["L40S-48GB"].mig_profiles == ()
    assert not catalog.gpus["L40S-48GB"].has_nvlink
    for gpu in catalog.gpus.values():
        assert gpu.sources
        for profile in gpu.mig_profiles:
            assert profile.compute_slices * profile.max_instances <= profile.total_slices or \
                profile.compute_slices == 1


@pytest.mark.parametrize("name, nodes, gpus, domain_sizes, racks", [
    ("dgx_h100", 1, 8, {8}, 1),
    ("dgx_h100_x2", 2, 16, {8}, 1),
    ("dgx_h100_x4", 4, 32, {8}, 1),
    ("h100_x64", 64, 512, {8}, 16),
    ("a100_pairwise_x4", 4, 16, {2}, 1),
    ("l40s_pcie", 2, 16, {1}, 1),
])
def test_shipped_clusters_expand(catalog, name, nodes, gpus, domain_sizes, racks):
    raw = load_yaml(data_dir("conf") / "cluster" / f"{name}.yaml")
    raw["node_groups"] = [{"nvlink_domain_size": None, "nvlink_domains": None,
                           "nodes_per_rack": 4, "network_gb_s": 400.0, **g}
                          for g in raw["node_groups"]]
    cluster = expand_cluster(raw, catalog, source=name)
    assert len(cluster.nodes) == nodes and cluster.num_gpus == gpus
    assert {len(d) for n in cluster.nodes for d in n.nvlink_domains} == domain_sizes
    assert len(cluster.racks) == racks
    assert len({n.id for n in cluster.nodes}) == nodes


def _group(**overrides):
    group = {"name": "g", "count": 1, "gpu": "H100-SXM-80GB", "gpus_per_node": 8,
             "nvlink_domain_size": None, "nvlink_domains": None, "nodes_per_rack": 4,
             "network_gb_s": 400.0}
    group.update(overrides)
    return {"name": "c", "node_groups": [group]}


@pytest.mark.parametrize("overrides, needle", [
    ({"gpu": "H100-SXM-800GB"}, "unknown GPU"),
    ({"count": 0}, "must be > 0"),
    ({"nvlink_domain_size": 3}, "must divide"),
    ({"nvlink_domains": [[0, 1], [1, 2]]}, "partition"),
    ({"gpu": "L40S-48GB", "nvlink_domain_size": 2}, "has no NVLink"),
    # names become node ids, folder names, words in launch scripts and Kubernetes labels
    ({"name": "n$(touch /tmp/x)"}, "a node group name is not a valid name"),
    ({"name": "../../../../tmp/ESCAPED"}, "a node group name is not a valid name"),
    ({"name": "g\ntrust-remote-code: true"}, "a node group name is not a valid name"),
    ({"name": "g" * 61}, "the node ids of this group are not valid"),  # g...g-00: 64
    ({"name": "g" * 60, "count": 1000}, "(got '" + "g" * 60 + "-999')"),  # 64
    # a count no cluster has: refused before any node is built (it once ran out of memory)
    ({"count": 10**30}, "more than 10000 nodes"),
    ({"count": 10_001}, "more than 10000 nodes"),
])
def test_bad_clusters_are_rejected(catalog, overrides, needle):
    with pytest.raises((CatalogError, ConfigError)) as info:
        expand_cluster(_group(**overrides), catalog, source="conf/cluster/c.yaml")
    assert needle in str(info.value)
    assert str(info.value).startswith("conf/cluster/c.yaml: node_groups[0]")


def test_the_largest_cluster_the_planner_takes_expands(catalog):
    raw = _group(count=6000)
    raw["node_groups"].append({**raw["node_groups"][0], "name": "h", "count": 4000})
    assert len(expand_cluster(raw, catalog, source="c").nodes) == 10_000
    raw["node_groups"][1]["count"] = 4001
    with pytest.raises(ConfigError, match=r"node_groups\[1\]\.count.*more than 10000 nodes"):
        expand_cluster(raw, catalog, source="c")


def test_the_longest_node_id_that_fits_a_label_is_accepted(catalog):
    cluster = expand_cluster(_group(name="g" * 60), catalog, source="c")
    assert [n.id for n in cluster.nodes] == ["g" * 60 + "-00"]  # 63 characters


@pytest.mark.parametrize("name", ["c\ntrust-remote-code: true", "../c", "c d", "", None])
def test_bad_cluster_names_are_rejected(catalog, name):
    with pytest.raises(ConfigError) as info:
        expand_cluster({**_group(), "name": name}, catalog, source="conf/cluster/c.yaml")
    assert str(info.value).startswith("conf/cluster/c.yaml: name: a cluster name is not a "
                                      "valid name")


def test_unknown_gpu_suggests_the_close_id(catalog):
    with pytest.raises(CatalogError, match="did you mean H100-SXM-80GB"):
        expand_cluster(_group(gpu="H100-SXM-80G"), catalog, source="c")


def _copy_catalog(tmp_path):
    target = tmp_path / "models"
    shutil.copytree(data_dir("models"), target)
    return target


def test_malformed_llm_spec_names_file_and_line(tmp_path):
    models = _copy_catalog(tmp_path)
    spec = models / "llama-2-7b" / "spec.yaml"
    spec.write_text(spec.read_text() + "num_layers: [32\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(models)
    message = str(info.value)
    assert str(spec) in message and "malformed YAML at line" in message


@pytest.mark.parametrize("edit, needle", [
    (lambda s: s.replace("num_layers: 32\n", ""), "num_layers: missing field"),
    (lambda s: s.replace("weight_bytes: 13476831232", "weight_bytes: 13476831230"),
     "set weight_bytes: 13476831232"),
    (lambda s: s.replace("task: generate", "task: chat"), "unknown task"),
    (lambda s: s.replace("id: llama-2-7b", "id: llama2-7b"), "differs from the folder"),
    (lambda s: s.replace("num_kv_heads: 32", "num_kv_heads: 5"), "multiple of KV heads"),
    (lambda s: s.replace("id: llama-2-7b", "id: ___"), "id: an llm id is not a valid name"),
    (lambda s: s + "# \udcff\n", "not UTF-8 text: the byte(s) ff cannot be decoded"),
])
def test_invalid_llm_specs_are_rejected(tmp_path, edit, needle):
    models = _copy_catalog(tmp_path)
    spec = models / "llama-2-7b" / "spec.yaml"
    spec.write_bytes(edit(spec.read_text()).encode("utf-8", "surrogateescape"))
    with pytest.raises(CatalogError) as info:
        load_catalog(models)
    assert needle in str(info.value) and "Fix:" in str(info.value)


def test_gpu_spec_without_sources_is_rejected(tmp_path):
    models = _copy_catalog(tmp_path)
    path = models / "gpus" / "L40S-48GB.yaml"
    raw = load_yaml(path)
    raw.pop("sources")
    import yaml
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(CatalogError, match="cite its sources"):
        load_catalog(models)
