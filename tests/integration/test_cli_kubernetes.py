"""The Kubernetes manifests from the CLI, as a user emits them from a placement."""

from pathlib import Path

import yaml

from scepsy_opt.emit.kubernetes import validate_object

REPO = Path(__file__).resolve().parents[2]
PLACEMENT = REPO / "tests" / "data" / "run_rag_reranker" / "placement.json"


def test_the_default_plan_emits_one_mps_claim_and_its_prerequisites(cli, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("+workflow=rag_reranker", f"emit.placement={PLACEMENT}",
                 "emit.formats=[kubernetes,plan]", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    folder = run_dir / "manifests" / "kubernetes"
    readme = (folder / "README.md").read_text()
    assert "featureGates.MPSSupport=true" in readme and "| dgx-h100-00 | dra |" in readme
    claims = [d for d in yaml.safe_load_all((folder / "01-resource-claims.yaml").read_text())
              if d]
    # a TP-8 group at 0.75 with two TP-4 groups at 0.25 on its GPUs: one claim of 8 GPUs
    assert [(c["kind"], c["spec"]["devices"]["requests"][0]["exactly"]["count"])
            for c in claims] == [("ResourceClaim", 8)]
    for path in sorted(folder.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                validate_object(document, "1.34", source=path.name)


def test_a_node_label_value_a_cluster_refuses_stops_the_run_cleanly(cli, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("+workflow=rag_reranker", f"emit.placement={PLACEMENT}",
                 "+emit.kubernetes.node_names.dgx-h100-00='rack 1/host'",
                 f"hydra.run.dir={run_dir}")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    for needle in ("emit.kubernetes.node_names", "'rack 1/host'", "dgx-h100-00",
                   "not a valid Kubernetes label value", "Fix:"):
        assert needle in result.stderr, (needle, result.stderr)
    assert not (run_dir / "manifests").exists() and not (run_dir / "plan.json").exists()


def test_the_report_lists_the_kubernetes_prerequisites(cli, tmp_path):
    """A re-run of emit (and of the report alone) from a finished run's directory: report.md
    repeats what the Kubernetes manifests need, the DRA driver's MPSSupport gate included."""
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(PLACEMENT.parent, run_dir)
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "overrides.yaml").write_text("- +workflow=rag_reranker\n")
    for stage in ("emit", "report"):
        result = cli(f"from_run={run_dir}", f"stage={stage}")
        assert result.returncode == 0, result.stderr
        report = (run_dir / "report.md").read_text()
        assert "Kubernetes prerequisites (`manifests/kubernetes/README.md`)" in report, stage
        assert "featureGates.MPSSupport=true" in report and "`hf-token`" in report, stage
