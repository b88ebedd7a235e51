"""End-to-end runs of `python -m scepsy_opt` in subprocesses, as a user runs it."""

import json
from pathlib import Path

import pytest

from scepsy_opt.core.profile_table import read_csv
from scepsy_opt.core.trace import read_jsonl

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
SHIPPED = ["rag_reranker", "beam_search", "rag_beam", "map_reduce_summarization",
           "multi_agent_coding", "react_tool_agent"]
LLM_FIELDS = {"calls_per_request", "parallelism", "critical_path_weight", "n_over_p",
              "critical_path_time_share", "input_tokens", "output_tokens", "call_duration_s",
              "busy_s_per_request", "share", "share_cv"}
SUMMARY_FIELDS = {"mean", "std", "cv", "min", "p1", "p50", "p90", "p99", "max"}
# Targets each workflow sustains on the default 8-GPU cluster (beam search and the coding
# agents' large llms saturate 8 GPUs at ~0.2 requests/s).
TEST_RATES = {"rag_reranker": 1.0, "beam_search": 0.1, "rag_beam": 0.5,
              "map_reduce_summarization": 1.0, "multi_agent_coding": 0.1,
              "react_tool_agent": 1.0}


def llms_of_workflow(name: str) -> set[str]:
    text = (REPO / "conf" / "workflow" / f"{name}.yaml").read_text()
    return {line.split("llm:")[1].strip() for line in text.splitlines() if "llm:" in line}


@pytest.mark.parametrize("workflow", SHIPPED)
def test_every_shipped_workflow_writes_its_statistics(cli, tmp_path, workflow):
    run_dir = tmp_path / "run"
    rate = TEST_RATES[workflow]
    result = cli(f"+workflow={workflow}", "fit=fast", f"target.rate_rps={rate}",
                 f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    stats = json.loads((run_dir / "workflow_stats.json").read_text())
    assert stats["schema_version"] == 1 and stats["workflow"] == workflow
    expected = set().union(*(llms_of_workflow(m) for m in (
        ["rag_reranker", "beam_search"] if workflow == "rag_beam" else [workflow])))
    assert set(stats["llms"]) == expected
    for llm, record in stats["llms"].items():
        assert LLM_FIELDS <= set(record), llm
        for key in ("calls_per_request", "input_tokens", "output_tokens"):
            assert SUMMARY_FIELDS <= set(record[key])
        assert record["calls_per_request"]["mean"] > 0
    assert SUMMARY_FIELDS <= set(stats["e2e_latency_s"])
    assert stats["num_requests"] >= 2000
    for member in stats["workflows"].values():
        assert member["shares_stable"] in (True, False)
    # The readable summary table is printed.
    assert "share CV" in result.stdout and "workflow_stats.json" in result.stdout
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    # A roofline profile of every llm on the cluster's GPU type.
    profiles = sorted(p.name for p in (run_dir / "profiles").glob("*.csv"))
    assert profiles == sorted(f"{llm}__H100-SXM-80GB.csv" for llm in expected)
    for name in profiles:
        table = read_csv(run_dir / "profiles" / name)
        assert table.backend == "roofline" and len(table.rows("prefill")) > 0
        scoring = table.llm in ("bge-reranker-v2-gemma", "qwen2.5-math-prm-7b")
        assert (len(table.rows("decode")) == 0) == scoring
    check_allocation(json.loads((run_dir / "allocation.json").read_text()), expected, 8, rate)
    assert "allocation for" in result.stdout and "allocation.json" in result.stdout


def check_allocation(record: dict, llms: set[str], gpus: int, rate: float = 1.0) -> None:
    """An allocation.json that is complete and consistent with the cluster and the target."""
    assert record["schema_version"] == 1 and set(record["llms"]) == llms
    assert record["target_rate_rps"] == rate and record["cluster_gpus"] == gpus
    used = 0.0
    for llm, entry in record["llms"].items():
        assert entry["tp"] in (1, 2, 4, 8) and entry["replicas"] >= 1, llm
        assert entry["gpu_fraction"] * 8 == round(entry["gpu_fraction"] * 8)
        assert entry["gpus"] == pytest.approx(entry["tp"] * entry["replicas"]
                                              * entry["gpu_fraction"])
        used += entry["gpus"]
        memory = entry["memory_per_gpu_gib"]
        assert memory["weights"] > 0 and memory["kv_cache"] > 0
        assert memory["weights"] + memory["kv_cache"] + memory["reserve"] == pytest.approx(
            memory["budget"])
        predicted = entry["predicted"]
        assert 0 < predicted["utilization"] <= record["utilization_cap"] + 1e-9
        assert predicted["latency_contribution_s"] >= 0
    assert used == pytest.approx(record["gpus_used"]) and used <= gpus
    predicted = record["predicted"]
    assert predicted["throughput_rps"] >= rate
    parts = sum(e["predicted"]["latency_contribution_s"] for e in record["llms"].values())
    assert parts + predicted["tool_latency_s"] == pytest.approx(predicted["latency_s"], rel=1e-6)
    trace = record["search"]["trace"]
    assert trace[0]["phase"] == "target" and trace[-1]["phase"] == "result"
    assert trace[-1]["latency_s"] == pytest.approx(predicted["latency_s"], rel=1e-6)
    assert trace[-1]["latency_s"] <= min(s["latency_s"] for s in trace if s["phase"] == "start")


def test_rag_beam_reports_each_member_with_its_rate(cli, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("+workflow=rag_beam", "target.rate_rps=5", f"hydra.run.dir={run_dir}",
                 "analyze.num_requests=500", "stop_after=profile")
    assert result.returncode == 0, result.stderr
    stats = json.loads((run_dir / "workflow_stats.json").read_text())
    fractions = {name: m["rate_fraction"] for name, m in stats["workflows"].items()}
    assert fractions == pytest.approx({"rag_reranker": 0.8, "beam_search": 0.2})
    assert set(stats["workflows"]["beam_search"]["llms"]) == {"qwen2.5-7b-instruct",
                                                               "qwen2.5-math-prm-7b"}


def test_without_a_workflow_the_cli_lists_them(cli, tmp_path):
    result = cli(f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    for name in SHIPPED:
        assert name in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "workflow_stats.json").exists()


def test_multirun_sweeps_workflows(cli, tmp_path):
    sweep = tmp_path / "sweep"
    result = cli("--multirun", "+workflow=rag_reranker,beam_search", f"hydra.sweep.dir={sweep}",
                 "analyze.num_requests=300", "stop_after=profile")
    assert result.returncode == 0, result.stderr
    written = sorted(p.parent.name for p in sweep.glob("*/workflow_stats.json"))
    assert written == ["0_rag_reranker", "1_beam_search"]


def test_capacity_sweep_experiment(cli, tmp_path):
    sweep = tmp_path / "sweep"
    result = cli("--multirun", "+workflow=rag_reranker", "+experiment=capacity_sweep",
                 f"hydra.sweep.dir={sweep}", "analyze.num_requests=200", "stop_after=profile")
    assert result.returncode == 0, result.stderr
    rates = sorted(float(p.read_text().split("rate_rps: ")[1].split()[0])
                   for p in sweep.glob("*/.hydra/config.yaml"))
    assert rates == [1.0, 2.0, 4.0, 8.0]
    summary = (sweep / "sweep_summary.csv").read_text().splitlines()
    assert len(summary) == 5 and all(",stopped after profile," in line for line in summary[1:])


def test_profiles_on_another_cluster_and_imported(cli, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("+workflow=map_reduce_summarization", "cluster=l40s_pcie",
                 "analyze.num_requests=100", "stop_after=profile", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    table = read_csv(run_dir / "profiles" / "qwen2.5-32b-instruct__L40S-48GB.csv")
    infeasible = table.rows("memory", status="infeasible")
    assert (1, 1.0) in infeasible.configurations()  # 65 GB of weights on a 48 GB card
    assert "L40S-48GB" in " ".join(infeasible["error"])
    run_dir = tmp_path / "imported"
    result = cli("+workflow=traces", f"workflow.traces.path={DATA / 'metagpt'}",
                 "workflow.traces.format=metagpt",
                 "+workflow.traces.llm_map={gpt-4-32k: llama-3.1-8b-instruct}",
                 "profile=import", f"profile.path={DATA / 'vllm_bench' / 'serve'}",
                 "stop_after=profile", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    table = read_csv(run_dir / "profiles" / "llama-3.1-8b-instruct__H100-SXM-80GB.csv")
    assert table.backend == "import" and len(table.rows("load")) >= 3


FAST_EVALUATION = ["simulate.num_requests=200", "simulate.sustain.num_requests=150",
                   "simulate.sustain.iterations=4", "analyze.num_requests=300", "fit=fast"]


def test_evaluate_simulates_the_baselines(cli, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("+workflow=rag_reranker", "evaluate=true", "target.rate_rps=0.2",
                 "simulate.baselines=[independent,user_specified,pooled_tp1,exact]",
                 *FAST_EVALUATION, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["target_rate_rps"] == 0.2 and evaluation["cluster"] == "dgx_h100"
    plans = evaluation["plans"]
    assert set(plans) == {"planned", "independent", "user_specified", "pooled_tp1", "exact"}
    assert "exhaustive search is for small instances" in plans["exact"]["error"]
    allocation = json.loads((run_dir / "allocation.json").read_text())
    assert {llm: e["replicas"] for llm, e in allocation["llms"].items()} == {
        llm: e["replicas"] for llm, e in plans["planned"]["allocation"].items()}
    for name in ("planned", "independent", "user_specified", "pooled_tp1"):
        plan = plans[name]
        assert plan["max_sustainable_rate_rps"] > 0
        assert plan["at_target"]["throughput_ratio"] > 0.9
        assert set(plan["at_target"]["llms"]) == set(plan["allocation"])
        assert len(plan["placement"]) == sum(a["replicas"] for a in plan["allocation"].values())
        # the highest sustainable rate is the highest rate its search sustained
        sustained = [p["rate_rps"] for p in plan["probes"] if p["sustained"]]
        assert plan["max_sustainable_rate_rps"] == max(sustained, default=0.0)
    assert "evaluation of rag_reranker" in result.stdout and "max rps" in result.stdout
    # the report compares the plan with every baseline, simulated and predicted
    report = (run_dir / "report.md").read_text()
    assert "![latency against throughput](latency_throughput.png)" in report
    assert (run_dir / "latency_throughput.png").is_file()
    for name in ("planned", "independent", "user_specified", "pooled_tp1", "exact"):
        assert f"| {name} |" in report
    assert "exhaustive search is for small instances" in report


def test_exact_baseline_on_a_small_instance(cli, tmp_path):
    conf = _user_conf(tmp_path, {
        "cluster/pair.yaml": "name: pair\nnode_groups:\n  - {name: n, count: 1, "
                             "gpu: H100-SXM-80GB, gpus_per_node: 2}\n",
        "workflow/one.yaml": "name: one\nprogram:\n  call: {llm: llama-3.2-3b-instruct, "
                             "input_tokens: 500, output_tokens: 100}\n"})
    run_dir = tmp_path / "run"
    result = cli("+workflow=one", "cluster=pair", "evaluate=true", "target.rate_rps=5",
                 "simulate.baselines=[exact,independent]", *FAST_EVALUATION,
                 f"hydra.searchpath=[file://{conf}]", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    plans = json.loads((run_dir / "evaluation.json").read_text())["plans"]
    assert "best of" in plans["exact"]["note"]
    exact, independent = plans["exact"], plans["independent"]
    assert exact["at_target"]["e2e_latency_s"]["mean"] <= \
        independent["at_target"]["e2e_latency_s"]["mean"] * 1.05
    # The search agrees with the simulator's exhaustive search here.
    planned = plans["planned"]
    assert planned["at_target"]["e2e_latency_s"]["mean"] <= \
        exact["at_target"]["e2e_latency_s"]["mean"] * 1.02
    assert planned["max_sustainable_rate_rps"] >= exact["max_sustainable_rate_rps"] * 0.98


def test_recorded_traces_are_analysed(cli, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("+workflow=traces", f"workflow.traces.path={DATA / 'litellm' / 'tau2_retail'}",
                 "workflow.traces.format=litellm", "+workflow.traces.options.llm_from=role",
                 "stop_after=profile", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    stats = json.loads((run_dir / "workflow_stats.json").read_text())
    assert stats["num_requests"] == 3 and stats["duration_model"] == "recorded"
    assert set(stats["llms"]) == {"agent", "benchmark"}


def test_sampled_traces_can_be_written_and_read_back(cli, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("+workflow=rag_reranker", "analyze.write_traces=true",
                 "analyze.num_requests=50", "stop_after=analyze", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    table = read_jsonl(run_dir / "traces" / "rag_reranker.jsonl")
    stats = json.loads((run_dir / "workflow_stats.json").read_text())
    assert table.num_requests == 50 and table.num_calls == stats["num_calls"] + 50  # + tools


# ------------------------------------------------------------------------------ bad inputs

CALL = "{llm: llama-3.1-8b-instruct, input_tokens: 100, output_tokens: 10}"


def _user_conf(tmp_path: Path, files: dict[str, str]) -> Path:
    conf = tmp_path / "user_conf"
    for name, text in files.items():
        path = conf / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return conf


def _fails_cleanly(result, run_dir: Path, *needles: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    assert not (run_dir / "workflow_stats.json").exists()


@pytest.mark.parametrize("files, args, needles", [
    ({"workflow/bad.yaml": "name: bad\nprogram: {call: " + CALL + "\n  seq: [\n"},
     ["+workflow=bad"], ["workflow/bad.yaml", "malformed YAML at line 3, column 3", "Fix:"]),
    ({"workflow/bad.yaml": "name: bad\nprogram:\n  call: {llm: llama-9b, input_tokens: 1, "
                           "output_tokens: 1}\n"},
     ["+workflow=bad"], ["workflow/bad.yaml", "program.call.llm", "unknown llm", "'llama-9b'"]),
    ({"cluster/mine.yaml": "name: mine\nnode_groups:\n  - {name: n, count: 2, gpu: H100-SXM}\n"},
     ["+workflow=rag_reranker", "cluster=mine"],
     ["cluster/mine.yaml", "node_groups[0].gpu", "unknown GPU", "did you mean H100-SXM-80GB"]),
    ({"workflow/bad.yaml": "name: bad\nprogram:\n  choice:\n    - {p: 0.5, body: {call: "
                           + CALL + "}}\n    - {p: 0.6, body: {call: " + CALL + "}}\n"},
     ["+workflow=bad"], ["workflow/bad.yaml", "program.choice", "sum to 1.1"]),
    ({}, ["+workflow=rag_reranker", "target.rate_rps=0"], ["target.rate_rps", "must be > 0"]),
    ({}, ["+workflow=rag_beam", "fit.calibration.mix=pooled"],
     ["fit.calibration.mix", "'pooled'", "use one of joint, members"]),
    ({}, ["+workflow=rag_beam", "workflow.members.beam_search.weight=-1"],
     ["rag_beam.yaml", "members.beam_search.weight", "> 0"]),
    ({"workflow/bad.yaml": "name: bad\nprogram:\n  loop: {continue_p: 0.9, body: {call: "
                           + CALL + "}}\n"},
     ["+workflow=bad"], ["workflow/bad.yaml", "program.loop", "has no bound", "max_iterations"]),
    ({"workflow/bad.yaml": "name: bad\nprogram:\n  fork: [{call: " + CALL + "}]\n"},
     ["+workflow=bad"], ["workflow/bad.yaml", "unknown node kind", "'fork'"]),
])
def test_bad_inputs_fail_with_a_clear_message(cli, tmp_path, files, args, needles):
    run_dir = tmp_path / "run"
    extra = [f"hydra.searchpath=[file://{_user_conf(tmp_path, files)}]"] if files else []
    result = cli(*args, *extra, f"hydra.run.dir={run_dir}")
    _fails_cleanly(result, run_dir, *needles)


@pytest.mark.parametrize("lines, needles", [
    (['{"request_id": "r", "call_id": "a", "parents": ["b"], "llm": "x", "start_s": 0, '
      '"end_s": 1}',
      '{"request_id": "r", "call_id": "b", "parents": ["a"], "llm": "x", "start_s": 1, '
      '"end_s": 2}'], ["dependency cycle", "Fix:"]),
    (['{"request_id": "r", "call_id": "a", "llm": "x", "start_s": 0}'],
     [":1: missing field(s) end_s"]),
])
def test_bad_traces_fail_with_a_clear_message(cli, tmp_path, lines, needles):
    trace = tmp_path / "t.jsonl"
    trace.write_text("\n".join(lines) + "\n")
    run_dir = tmp_path / "run"
    result = cli("+workflow=traces", f"workflow.traces.path={trace}", f"hydra.run.dir={run_dir}")
    _fails_cleanly(result, run_dir, str(trace), *needles)


# ------------------------------------------------------------------------------ place stage

def test_place_writes_a_verified_placement_and_its_map(cli, tmp_path, catalog, compose):
    from scepsy_opt.core.placement import placement_problem
    from scepsy_opt.core.types import Allocation, InstancePlacement, LlmAllocation, Placement
    from scepsy_opt.placement.verify import measure, verify

    run_dir = tmp_path / "run"
    overrides = ["cluster=a100_pairwise_x4", "target.rate_rps=1", "analyze.num_requests=300"]
    result = cli("+workflow=react_tool_agent", "fit=fast", "placement.export_mps=true",
                 *overrides, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    for name in ("allocation.json", "placement.json", "placement.png", "placement.mps"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "placement.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "ROWS" in (run_dir / "placement.mps").read_text()
    assert "placement on a100_pairwise_x4" in result.stdout
    allocation = json.loads((run_dir / "allocation.json").read_text())
    record = json.loads((run_dir / "placement.json").read_text())
    assert record["schema_version"] == 1 and record["status"] in ("optimal", "feasible")
    assert record["solver"]["solves"][0]["solver"] == "highs"
    assert {"fragmented_gpus", "partially_used_gpus"} <= set(record["fragmentation"])
    assert len(record["gpus"]) == 16
    # Rebuild the problem from the run's allocation and verify the written placement.
    _, settings = compose("react_tool_agent", *overrides)
    planned = Allocation("planned", tuple(
        LlmAllocation(llm, e["gpu"], e["tp"], e["replicas"], e["gpu_fraction"])
        for llm, e in allocation["llms"].items()))
    problem = placement_problem(planned, settings.cluster, catalog, settings.profile.memory,
                                settings.placement)
    placement = Placement(record["method"], tuple(
        InstancePlacement(i["llm"], i["replica"], i["node"], tuple(i["gpus"]), i["gpu_fraction"])
        for i in record["instances"]))
    verify(problem, placement)
    metrics = measure(problem, placement)
    assert metrics.gpus_used == record["metrics"]["gpus_used"]
    assert metrics.fragmented_gpus == record["fragmentation"]["fragmented_gpus"]
    for instance in record["instances"]:  # TP groups inside NVLink pairs
        if instance["tp"] == 2:
            assert sorted(instance["gpus"]) in ([0, 1], [2, 3])


def test_a_run_whose_nodes_are_all_excluded_fails_cleanly_with_the_place_stages_reason(
        cli, tmp_path):
    # the search packs with the run's placement options, so it stops first, with the place
    # stage's own diagnosis
    run_dir = tmp_path / "run"
    result = cli("+workflow=rag_reranker", "fit=fast", "analyze.num_requests=300",
                 "placement.exclude_nodes=[dgx-h100-00]", f"hydra.run.dir={run_dir}")
    _fails_cleanly(result, run_dir, "every H100-SXM-80GB node that could take",
                   "is excluded or outside its pins", "Fix: relax placement.exclude_nodes")
    assert not (run_dir / "placement.json").exists()


# ------------------------------------------------------------------------------ emit stage

def _validate_manifests(run_dir: Path) -> dict[str, int]:
    """Every written manifest against its schema; returns the count of Kubernetes kinds."""
    import yaml

    from scepsy_opt.emit.kubernetes import validate_object
    from scepsy_opt.emit.schemas import validate_json
    from scepsy_opt.emit.vllm import validate_serve_config
    from scepsy_opt.emit.vllm_options import load_options

    kinds: dict[str, int] = {}
    for path in sorted((run_dir / "manifests" / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                validate_object(document, "1.34", source=str(path))
                kinds[document["kind"]] = kinds.get(document["kind"], 0) + 1
    options = load_options()["options"]
    for path in (run_dir / "manifests" / "vllm").rglob("*.yaml"):
        validate_serve_config(yaml.safe_load(path.read_text()), options, source=str(path))
    ray = run_dir / "manifests" / "ray-serve"
    if (ray / "serve_config.yaml").is_file():
        serve = yaml.safe_load((ray / "serve_config.yaml").read_text())
        validate_json(serve, "ray-serve-config.schema.json", source="serve", what="serve")
    else:  # a plan Ray cannot pin to its GPUs (an MPS-shared TP group): the reason instead
        assert "Fix: drop ray_serve from emit.formats" in (ray / "NOT_EMITTED.md").read_text()
    validate_json(json.loads((run_dir / "plan.json").read_text()), "plan.schema.json",
                  source="plan", what="plan")
    return kinds


def _default_run(cli, tmp_path: Path):
    """The whole pipeline on rag_reranker, with the arguments of
    test_every_shipped_workflow_writes_its_statistics (its fits are reused)."""
    run_dir = tmp_path / "run"
    result = cli("+workflow=rag_reranker", "fit=fast", "target.rate_rps=1.0",
                 f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    return run_dir, result


def test_the_full_pipeline_writes_valid_manifests(cli, tmp_path):
    from scepsy_opt.core.documents import DOCUMENTS

    run_dir, result = _default_run(cli, tmp_path)
    for name, kind in DOCUMENTS.items():  # each artifact reads back into its typed document
        if (run_dir / name).is_file():
            text = (run_dir / name).read_text()
            document = kind.from_json(json.loads(text), name)
            assert json.dumps(document.to_json(), indent=2) + "\n" == text, name
    assert "manifests for" in result.stdout and "plan.json" in result.stdout
    placement = json.loads((run_dir / "placement.json").read_text())
    plan = json.loads((run_dir / "plan.json").read_text())
    placed = {(i["llm"], i["replica"], i["node"], tuple(i["gpus"]))
              for i in placement["instances"]}
    assert {(i["llm"], i["replica"], i["nodes"][0]["node"], tuple(i["nodes"][0]["gpus"]))
            for i in plan["instances"]} == placed
    kinds = _validate_manifests(run_dir)
    instances = len(placement["instances"])
    # one Deployment and Service per instance, a Service per llm, the router and its Service
    assert kinds["Deployment"] == instances + 1 and kinds["Namespace"] == 1
    assert kinds["Service"] == instances + len({i["llm"] for i in placement["instances"]}) + 1
    nodes = {i["node"] for i in placement["instances"]}
    for node in nodes:
        launch = run_dir / "manifests" / "vllm" / node / "launch.sh"
        assert launch.stat().st_mode & 0o111
        assert launch.read_text().count("\nstart ") == sum(
            1 for i in placement["instances"] if i["node"] == node)
    for entry in plan["instances"]:
        config = run_dir / "manifests" / "vllm" / entry["nodes"][0]["node"] / \
            f"{entry['name']}.yaml"
        assert f"tensor-parallel-size: {entry['tp']}" in config.read_text()

    # Emitting again from the run's placement.json replaces the manifests tree as a whole.
    stale = run_dir / "manifests" / "vllm" / "stale.yaml"
    stale.write_text("old: true\n")
    again = cli("+workflow=rag_reranker", f"emit.placement={run_dir / 'placement.json'}",
                "emit.formats=[vllm,plan]", f"hydra.run.dir={run_dir}")
    assert again.returncode == 0, again.stderr
    assert not stale.exists() and not (run_dir / "manifests" / "kubernetes").exists()
    assert sorted(json.loads((run_dir / "plan.json").read_text())["instances"][0]) == \
        sorted(plan["instances"][0])

    # A placement whose fractions on a GPU sum above 1 is refused: nothing is written.
    broken = json.loads((run_dir / "placement.json").read_text())
    extra = dict(broken["instances"][0], replica=99, gpu_fraction=0.75, compute_share=0.75,
                 gpus=broken["instances"][0]["gpus"], tp=broken["instances"][0]["tp"])
    broken["instances"].append(extra)
    broken_path = tmp_path / "broken_placement.json"
    broken_path.write_text(json.dumps(broken))
    bad_dir = tmp_path / "bad"
    refused = cli("+workflow=rag_reranker", f"emit.placement={broken_path}",
                  f"hydra.run.dir={bad_dir}")
    _fails_cleanly(refused, bad_dir, str(broken_path), "is over-committed",
                   "GPU fractions of its instances sum to", "> 1", "Fix:")
    assert not (bad_dir / "manifests").exists() and not (bad_dir / "plan.json").exists()



# ------------------------------------------------------------------------------ report, re-runs

def _report_figures(run_dir: Path) -> list[str]:
    """The images report.md references (each must exist beside it)."""
    import re

    text = (run_dir / "report.md").read_text()
    names = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    for name in names:
        assert (run_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    return names


def test_report_and_stage_reruns_from_the_run_directory(cli, tmp_path):
    run_dir, result = _default_run(cli, tmp_path)
    assert "stage 7/7 report" in result.stderr
    assert _report_figures(run_dir) == ["placement.png", "latency_throughput.png"]
    text = (run_dir / "report.md").read_text()
    allocation = json.loads((run_dir / "allocation.json").read_text())
    for llm in allocation["llms"]:
        assert f"| `{llm}` |" in text
    for section in ("## Workflow statistics", "## Allocation", "## Placement",
                    "## Latency and throughput against the baselines", "## Solver statistics"):
        assert section in text
    curves = json.loads((run_dir / "predicted_curves.json").read_text())
    planned = curves["plans"]["planned"]
    assert planned["max_throughput_rps"] == pytest.approx(
        allocation["predicted"]["throughput_rps"])
    assert planned["latency_at_target_s"] == pytest.approx(allocation["predicted"]["latency_s"])
    assert {"independent", "user_specified", "pooled_tp1"} <= set(curves["plans"])
    # the closing summary table
    summary = result.stdout.split("\nsummary: ")[1]
    for llm, entry in allocation["llms"].items():
        assert any(line.split()[:3] == [llm, str(entry["tp"]), str(entry["replicas"])]
                   for line in summary.splitlines()), llm
    assert f"manifests: {run_dir / 'manifests'}" in summary and "report: " in summary

    # Re-running place (then emit and report) from the run directory: no analysis, fit or
    # search; allocation.json and workflow_stats.json stay as they were.
    kept = {name: (run_dir / name).stat().st_mtime_ns
            for name in ("allocation.json", "workflow_stats.json", "predicted_curves.json")}
    before = (run_dir / "placement.json").stat().st_mtime_ns
    again = cli(f"from_run={run_dir}", "stage=place", "placement.solver_preset=fast")
    assert again.returncode == 0, again.stderr
    for stage in ("analyze", "profile", "fit", "search"):
        assert f" {stage}" not in " ".join(
            line for line in again.stderr.splitlines() if "stage " in line), stage
    assert "re-running place, emit, report" in again.stderr
    assert "search (" not in again.stderr and "surrogate.fit" not in again.stderr
    assert {name: (run_dir / name).stat().st_mtime_ns for name in kept} == kept
    assert (run_dir / "placement.json").stat().st_mtime_ns > before
    assert "placement on dgx_h100" in again.stdout and "summary: rag_reranker" in again.stdout
    reruns = list((run_dir / "reruns").iterdir())
    assert len(reruns) == 1 and reruns[0].name.endswith("_place")
    overrides = (reruns[0] / ".hydra" / "overrides.yaml").read_text()
    assert "stage=place" in overrides
    _validate_manifests(run_dir)

    # The report alone, from the artifacts (an evaluation.json added by hand shows up).
    (run_dir / "report.md").unlink()
    report_dir = tmp_path / "report_only"
    alone = cli(f"from_run={run_dir}", "stage=report", f"hydra.run.dir={report_dir}")
    assert alone.returncode == 0, alone.stderr
    assert _report_figures(run_dir) == ["placement.png", "latency_throughput.png"]
    assert (report_dir / "scepsy_opt.log").is_file()

    # A stage that cannot re-run, and a directory that is not a run, fail cleanly.
    bad = cli(f"from_run={run_dir}", "stage=search", f"hydra.run.dir={tmp_path / 'bad'}")
    assert bad.returncode != 0 and "stage: unknown option" in bad.stderr
    assert "Traceback" not in bad.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = cli("+workflow=rag_reranker", f"from_run={empty}", "stage=emit",
                  f"hydra.run.dir={tmp_path / 'bad2'}")
    assert missing.returncode != 0 and "placement.json" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_a_rate_sweep_writes_its_summary_with_failed_jobs(cli, tmp_path):
    import csv

    sweep = tmp_path / "sweep"
    # fitting does not depend on the target rate: both jobs reuse one fit; 1000 rps is
    # beyond the cluster, so that job fails and the sweep goes on
    result = cli("--multirun", "+workflow=rag_reranker", "fit=fast", "target.rate_rps=1.0,2,1000",
                 f"hydra.sweep.dir={sweep}")
    # a sweep with a failed job exits non-zero and names it (after writing the summary)
    assert result.returncode == 2, result.stderr
    assert "1 job(s) of the sweep failed: job 2 (" in result.stderr
    assert "target.rate_rps=1000" in result.stderr.splitlines()[-1]
    rows = list(csv.DictReader((sweep / "sweep_summary.csv").open()))
    assert [(r["job"], float(r["target_rate_rps"]), r["status"]) for r in rows] == [
        ("0", 1.0, "ok"), ("1", 2.0, "ok"), ("2", 1000.0, "failed")]
    for row in rows[:2]:
        allocation = json.loads((Path(row["run_dir"]) / "allocation.json").read_text())
        assert float(row["gpus_used"]) == pytest.approx(allocation["gpus_used"])
        assert float(row["predicted_latency_s"]) == pytest.approx(
            allocation["predicted"]["latency_s"])
        assert int(row["placed_gpus"]) >= 1
    assert "cannot be sustained" in rows[2]["error"] and "Fix:" in rows[2]["error"]
    assert (sweep / "sweep_summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Traceback" not in result.stderr
