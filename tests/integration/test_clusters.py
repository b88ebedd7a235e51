"""Every shipped cluster plans, places and emits end to end through the CLI.

A two-llm workflow small enough for every shipped GPU type (the smallest has 48 GB) runs on
each cluster with the quick fit; the oracle is the cluster file itself: every placed instance
is on a node of the cluster, on GPUs of its node inside one TP domain, with the node's GPU
type, and every instance has its manifests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scepsy_opt.core.catalog import expand_cluster
from scepsy_opt.core.topology import tp_domains

REPO = Path(__file__).resolve().parents[2]
CLUSTERS = sorted(p.stem for p in (REPO / "conf" / "cluster").glob("*.yaml"))
WORKFLOW = """name: two_llms
program:
  seq:
    - call: {llm: llama-3.1-8b-instruct, input_tokens: 800, output_tokens: 120}
    - call: {llm: llama-3.2-3b-instruct, input_tokens: 300, output_tokens: 60}
"""


@pytest.fixture(scope="module")
def sweep(cli, tmp_path_factory) -> Path:
    """One multirun over every shipped cluster (one process: imports and compilations are
    shared, and the clusters of one GPU type share their instance fits)."""
    root = tmp_path_factory.mktemp("clusters")
    conf = root / "user_conf" / "workflow"
    conf.mkdir(parents=True)
    (conf / "two_llms.yaml").write_text(WORKFLOW)
    result = cli("--multirun", "+workflow=two_llms", f"cluster={','.join(CLUSTERS)}",
                 "fit=fast", "analyze.num_requests=300", "target.rate_rps=1",
                 f"hydra.searchpath=[file://{conf.parent}]", f"hydra.sweep.dir={root / 'sweep'}",
                 timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "sweep"


def test_every_cluster_file_is_covered(sweep):
    assert len(CLUSTERS) >= 9 and "l40s_pcie" in CLUSTERS
    rows = (sweep / "sweep_summary.csv").read_text().splitlines()[1:]
    assert len(rows) == len(CLUSTERS) and all(",ok," in row for row in rows), rows
    # each job planned within its own cluster's GPUs
    import csv

    for row in csv.DictReader((sweep / "sweep_summary.csv").open()):
        assert row["cluster"] == CLUSTERS[int(row["job"])]
        assert float(row["gpus_used"]) <= int(row["cluster_gpus"]) + 1e-9
        assert int(row["placed_gpus"]) <= int(row["cluster_gpus"])


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_every_shipped_cluster_plans_places_and_emits(sweep, catalog, cluster):
    import yaml

    run_dir = sweep / f"{CLUSTERS.index(cluster)}_two_llms"
    assert f"cluster={cluster}" in (run_dir / ".hydra" / "overrides.yaml").read_text()
    spec = expand_cluster(yaml.safe_load((REPO / "conf" / "cluster" / f"{cluster}.yaml")
                                         .read_text()), catalog, source=cluster)
    nodes = {n.id: n for n in spec.nodes}
    placement = json.loads((run_dir / "placement.json").read_text())
    allocation = json.loads((run_dir / "allocation.json").read_text())
    assert placement["status"] in ("optimal", "feasible") and not placement["unplaced"]
    instances = placement["instances"]
    assert len(instances) == sum(a["replicas"] for a in allocation["llms"].values())
    for inst in instances:
        node = nodes[inst["node"]]
        assert inst["gpu"] == node.gpu and len(inst["gpus"]) == inst["tp"]
        assert all(0 <= g < node.num_gpus for g in inst["gpus"])
        assert any(set(inst["gpus"]) <= set(d) for d in tp_domains(node)), inst
    manifests = run_dir / "manifests"
    for inst in instances:
        name = f"{inst['llm']}-{inst['replica']}"
        assert list(manifests.glob(f"vllm/**/{name}*.yaml")), name
    assert list((manifests / "kubernetes").glob("*.yaml"))
    # Ray Serve gets its config, or a note saying why Ray cannot run this plan
    ray = {p.name for p in (manifests / "ray-serve").iterdir()}
    assert ray in ({"serve_config.yaml"}, {"NOT_EMITTED.md"}), ray
    assert (run_dir / "report.md").is_file() and (run_dir / "plan.json").is_file()
