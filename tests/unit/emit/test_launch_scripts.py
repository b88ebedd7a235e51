"""The per-node launch scripts of the vllm format, run for real with bash.

No value from the configuration or the plan is ever expanded by the shell: every one is a single
quoted word, so a hostile value reaches vLLM's process byte for byte and runs nothing. Hosts are
checked at load as well. On a node with MPS-shared GPUs the script finds or starts the MPS
control daemon before any instance, and stops with a clear message when it cannot.
"""

import os
import subprocess
from pathlib import Path

import pytest

from scepsy_opt.core.errors import ConfigError
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.types import ClusterSpec, NodeSpec
from scepsy_opt.emit import emit
from scepsy_opt.emit.settings import EmitSettings, RayServeOptions, VllmOptions
from scepsy_opt.testing.emit import GPU, h100_cluster, instance, mig_plan, mps_plan

SAFE_PATH = "/usr/bin:/bin"  # bash, curl, setsid, printenv; no vllm, no nvidia-cuda-mps-control


def _hostile(marker: Path) -> str:
    """Text that runs ``touch marker`` wherever a shell expands or splits it unquoted."""
    return f"$(touch {marker});touch {marker};`touch {marker}`|touch {marker} 'a\"b' \\ *"


def _write(files: dict[str, str], folder: Path) -> Path:
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if path.suffix == ".sh":
            path.chmod(0o755)
    return folder


def _run(script: Path, log_dir: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120,
                          env={"PATH": SAFE_PATH, "HOME": str(log_dir), "LOG_DIR": str(log_dir),
                               "HEALTH_TIMEOUT_S": "30", **env})


@pytest.mark.parametrize("plan, mechanism", [(mps_plan, "mps"), (mig_plan, "mig")])
def test_bash_parses_every_emitted_script(catalog, plan, mechanism, tmp_path):
    result = emit(plan(catalog), h100_cluster(), catalog, MemorySettings(),
                  EmitSettings(formats=("vllm",), fraction_mechanism=mechanism),
                  workflow="scripts", source="fixed plan")
    scripts = [p for p in result.by_format("vllm") if p.endswith(".sh")]
    assert sorted(scripts) == ["node-0/launch.sh", "node-0/stop.sh"]
    for path in scripts:
        check = subprocess.run(["bash", "-n"], input=result.by_format("vllm")[path],
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, (path, check.stderr)


def test_hostile_values_reach_vllm_literally_and_run_nothing(catalog, tmp_path):
    marker = tmp_path / "pwned"
    hostile = _hostile(marker)
    node = f"n{hostile}"  # node names are checked at load; the scripts quote them all the same
    cluster = ClusterSpec("c", "", (NodeSpec(node, GPU, 8, "rack", (tuple(range(8)),), 400.0),))
    settings = EmitSettings(formats=("vllm",), vllm=VllmOptions(
        env=(("HOSTILE", hostile),), model_root=f"/models/{hostile}"))
    # a host is refused at load (below); the script quotes it all the same
    object.__setattr__(settings.vllm, "host", f"127.0.0.1;touch {marker};true")
    plan = (instance(catalog, "llama-3.1-8b-instruct", 0, node, (0,), 1.0),)
    result = emit(plan, cluster, catalog, MemorySettings(), settings, workflow="hostile",
                  source="fixed plan")
    folder = _write(result.by_format("vllm"), tmp_path / "vllm")
    log_dir = tmp_path / "logs"
    # the "vllm" command prints the instance's HOSTILE variable and exits, so the instance
    # never becomes healthy and the script stops at its first wait
    run = _run(folder / node / "launch.sh", log_dir, VLLM="printenv HOSTILE")
    assert run.returncode != 0
    assert "llama-3.1-8b-instruct-0 exited before it became healthy" in run.stderr
    assert not marker.exists(), run.stdout + run.stderr
    assert (log_dir / "llama-3.1-8b-instruct-0.log").read_text().splitlines()[0] == hostile
    stop = _run(folder / node / "stop.sh", log_dir)
    assert stop.returncode == 0 and not marker.exists()


def test_a_node_with_mps_shares_needs_the_mps_control_daemon(catalog, tmp_path):
    result = emit(mps_plan(catalog), h100_cluster(), catalog, MemorySettings(),
                  EmitSettings(formats=("vllm",)), workflow="mps", source="fixed plan")
    launch = result.by_format("vllm")["node-0/launch.sh"]
    # the daemon is found or started, and must answer, before the first instance starts
    assert launch.index("\nstart_mps\n") < launch.index("\nstart llama-3.1-8b-instruct-0\n")
    assert 'CUDA_MPS_PIPE_DIRECTORY="${CUDA_MPS_PIPE_DIRECTORY:-/tmp/nvidia-mps}"' in launch
    assert "nvidia-cuda-mps-control -d" in launch
    folder = _write(result.by_format("vllm"), tmp_path / "vllm")
    log_dir = tmp_path / "logs"
    run = _run(folder / "node-0" / "launch.sh", log_dir, VLLM="printenv HOME")
    assert run.returncode == 1
    assert "nvidia-cuda-mps-control is not on PATH" in run.stderr
    assert "nothing started" in run.stderr and "started " not in run.stdout
    assert not list(log_dir.glob("*.pid")) and not list(log_dir.glob("*.log"))


def test_the_cpu_build_settings_skip_the_daemon(catalog, compose):
    _, settings = compose("rag_reranker", "emit=cpu_test")
    assert settings.emit.vllm.mps_daemon is False
    result = emit(mps_plan(catalog), h100_cluster(), catalog, MemorySettings(), settings.emit,
                  workflow="cpu", source="fixed plan")
    assert "start_mps" not in result.by_format("vllm")["node-0/launch.sh"]


def test_a_node_of_whole_gpus_needs_no_daemon(catalog):
    plan = (instance(catalog, "llama-3.1-8b-instruct", 0, "node-0", (0,), 1.0),)
    result = emit(plan, h100_cluster(), catalog, MemorySettings(),
                  EmitSettings(formats=("vllm",)), workflow="whole", source="fixed plan")
    assert "mps" not in result.by_format("vllm")["node-0/launch.sh"].lower()


@pytest.mark.parametrize("host", ["127.0.0.1;touch /tmp/x;true", "a b", "$(id)", "-x",
                                  "example..com", "", "h\nost"])
def test_a_host_that_is_no_address_or_host_name_is_refused_at_load(host):
    for options, key in ((lambda: VllmOptions(host=host), "host"),
                         (lambda: RayServeOptions(http_host=host), "http_host")):
        with pytest.raises(ConfigError) as error:
            options()
        assert f"{key}: not a host to listen on" in str(error.value)
        assert "Fix: use e.g. 0.0.0.0" in str(error.value)


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1", "::", "::1", "fe80::1", "localhost",
                                  "node-1.cluster.local", "Node7."])
def test_addresses_and_host_names_are_accepted(host):
    assert VllmOptions(host=host).host == host
    assert RayServeOptions(http_host=host).http_host == host


def test_env_values_and_model_roots_with_line_breaks_are_refused_at_load():
    with pytest.raises(ConfigError, match="env.HF_HOME: an environment value may not hold"):
        VllmOptions(env=(("HF_HOME", "/data\ntouch /tmp/x"),))
    with pytest.raises(ConfigError, match="model_root: must be a path without control"):
        VllmOptions(model_root="/models\n")


def test_an_ipv6_host_is_probed_in_brackets(catalog):
    plan = (instance(catalog, "llama-3.1-8b-instruct", 0, "node-0", (0,), 1.0),)
    result = emit(plan, h100_cluster(), catalog, MemorySettings(),
                  EmitSettings(formats=("vllm",), vllm=VllmOptions(host="::1")),
                  workflow="v6", source="fixed plan")
    assert "\nwait_healthy llama-3.1-8b-instruct-0 '[::1]' 8000\n" in \
        result.by_format("vllm")["node-0/launch.sh"]


def test_the_test_shell_has_no_vllm_and_no_mps_tools():
    for tool in ("vllm", "nvidia-cuda-mps-control"):
        assert not any(os.access(Path(d) / tool, os.X_OK) for d in SAFE_PATH.split(":"))
