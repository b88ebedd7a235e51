"""vLLM launch configs: per instance a ``vllm serve --config`` YAML and its environment, per node
a launch script that starts the node's instances one after another and a stop script.

Layout under ``manifests/vllm/``::

    <node>/<instance>.yaml   vllm serve --config file: long option names as keys
    <node>/<instance>.env    CUDA_VISIBLE_DEVICES, CUDA_MPS_* (shared GPUs), extra variables
    <node>/launch.sh         starts each instance, waits for its /health, then the next
    <node>/stop.sh           SIGTERM to every instance's process group (SIGKILL after a while)

Co-located instances start one after another because vLLM's start-up memory check (the free
memory it sees against its ``gpu-memory-utilization``) breaks when two engines initialise on
one GPU at once. A MIG instance's device is resolved at launch from ``nvidia-smi -L`` (MIG
device UUIDs are not known before the slices exist). A group that spans nodes needs a Ray
cluster, so it is refused here (the kubernetes and ray_serve formats launch it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import yaml

from scepsy_opt.core.errors import EmitError
from scepsy_opt.emit.base import header, one_line, sh, to_yaml
from scepsy_opt.emit.record import MIG, MPS, InstanceRecord, LaunchPlan
from scepsy_opt.emit.vllm_options import load_options

_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Ranges of the keys the plan sets (vLLM's parser only knows their types).
_RANGES = {"port": (1, 65535), "tensor-parallel-size": (1, 1024),
           "pipeline-parallel-size": (1, 1024), "max-num-seqs": (1, 1 << 31),
           "max-num-batched-tokens": (1, 1 << 31), "max-model-len": (1, 1 << 31)}


def serve_config(record: InstanceRecord) -> dict[str, Any]:
    """The ``vllm serve --config`` mapping of one instance (option names without ``--``)."""
    return dict(record.engine_args)


def env_lines(record: InstanceRecord) -> list[tuple[str, str]]:
    env = list(record.env)
    if record.mechanism == MIG:
        env.insert(0, ("SCEPSY_MIG_DEVICE",
                       f"{record.gpus[0]}:{record.mig_profile}:{record.mig_ordinal}"))
    return env


def _health_host(record: InstanceRecord) -> str:
    host = str(record.arg("host"))
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host  # an IPv6 address in a URL


_LAUNCH_HEAD = """#!/usr/bin/env bash
# {title}
# Starts the vLLM instances of node {node} one after another: each starts only when the one
# before it answers on /health, because vLLM's start-up memory check breaks when two engines
# initialise on one GPU at once. On a failure the instances started so far are stopped.
#   VLLM              the vllm command (default: vllm)
#   LOG_DIR           logs and pid files (default: logs/ next to this script)
#   HEALTH_TIMEOUT_S  seconds an instance may take to become healthy (default: {timeout})
set -euo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
VLLM="${{VLLM:-vllm}}"
LOG_DIR="${{LOG_DIR:-$here/logs}}"
HEALTH_TIMEOUT_S="${{HEALTH_TIMEOUT_S:-{timeout}}}"
export LOG_DIR
mkdir -p "$LOG_DIR"
command -v curl >/dev/null || {{ echo "launch.sh needs curl" >&2; exit 1; }}

# The UUID of the <ordinal>-th MIG device of profile <profile> on GPU <gpu>.
mig_uuid() {{
  nvidia-smi -L | awk -v gpu="$1" -v profile="$2" -v want="$3" '
    /^GPU [0-9]+:/ {{ current = $2; sub(":", "", current) }}
    $1 == "MIG" && $2 == profile && current == gpu {{
      if (n++ == want) {{ match($0, /MIG-[^)]+/); print substr($0, RSTART, RLENGTH) }}
    }}'
}}

# Start instance <name> in its own process group with its environment and config.
start() {{
  local name="$1"
  (
    set -a
    . "$here/$name.env"
    set +a
    if [ -n "${{SCEPSY_MIG_DEVICE:-}}" ]; then
      IFS=: read -r gpu profile ordinal <<<"$SCEPSY_MIG_DEVICE"
      CUDA_VISIBLE_DEVICES="$(mig_uuid "$gpu" "$profile" "$ordinal")"
      if [ -z "$CUDA_VISIBLE_DEVICES" ]; then
        echo "no MIG $profile device #$ordinal on GPU $gpu" >&2
        exit 1
      fi
      export CUDA_VISIBLE_DEVICES
    fi
    exec setsid $VLLM serve --config "$here/$name.yaml"
  ) >"$LOG_DIR/$name.log" 2>&1 &
  echo $! >"$LOG_DIR/$name.pid"
  echo "started $name (pid $!), log $LOG_DIR/$name.log"
}}

# Wait until instance <name> answers on http://<host>:<port>/health.
wait_healthy() {{
  local name="$1" url="http://$2:$3/health" pid deadline=$((SECONDS + HEALTH_TIMEOUT_S))
  pid="$(cat "$LOG_DIR/$name.pid")"
  until curl -fs -o /dev/null "$url"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited before it became healthy; see $LOG_DIR/$name.log" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "$name is not healthy after $HEALTH_TIMEOUT_S s; see $LOG_DIR/$name.log" >&2
      return 1
    fi
    sleep 1
  done
  echo "$name is healthy at $url"
}}

trap 'echo "launch failed: stopping the instances started so far" >&2; "$here/stop.sh"' ERR
"""

_MPS_SETUP = """
# MPS: instances of this node share GPUs, and only the MPS control daemon enforces their
# CUDA_MPS_* limits (without it they are ignored): find it running, or start it, and check that
# it answers before any instance starts.
#   CUDA_MPS_PIPE_DIRECTORY  the daemon's pipe directory (default: /tmp/nvidia-mps)
#   CUDA_MPS_LOG_DIRECTORY   its log directory (default: /var/log/nvidia-mps)
# Stop the daemon after stop.sh with: echo quit | nvidia-cuda-mps-control
export CUDA_MPS_PIPE_DIRECTORY="${CUDA_MPS_PIPE_DIRECTORY:-/tmp/nvidia-mps}"
export CUDA_MPS_LOG_DIRECTORY="${CUDA_MPS_LOG_DIRECTORY:-/var/log/nvidia-mps}"
mps_answers() {
  echo get_server_list | nvidia-cuda-mps-control >/dev/null 2>&1
}
start_mps() {
  if ! command -v nvidia-cuda-mps-control >/dev/null; then
    echo "launch.sh: nvidia-cuda-mps-control is not on PATH, so the MPS limits of this node's" \\
      "instances cannot be enforced: install the NVIDIA driver's MPS tools (nothing started)" >&2
    exit 1
  fi
  if ! mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"; then
    echo "launch.sh: cannot create the MPS pipe and log directories $CUDA_MPS_PIPE_DIRECTORY" \\
      "and $CUDA_MPS_LOG_DIRECTORY: set CUDA_MPS_PIPE_DIRECTORY/CUDA_MPS_LOG_DIRECTORY" >&2
    exit 1
  fi
  if mps_answers; then
    echo "MPS control daemon running (pipe $CUDA_MPS_PIPE_DIRECTORY)"
    return 0
  fi
  # the daemon manages every GPU of the node; each instance's CUDA_VISIBLE_DEVICES picks its own
  if ! env -u CUDA_VISIBLE_DEVICES nvidia-cuda-mps-control -d; then
    echo "launch.sh: cannot start the MPS control daemon; see $CUDA_MPS_LOG_DIRECTORY" >&2
    exit 1
  fi
  for _ in $(seq 50); do
    if mps_answers; then
      echo "started the MPS control daemon (pipe $CUDA_MPS_PIPE_DIRECTORY," \\
        "log $CUDA_MPS_LOG_DIRECTORY)"
      return 0
    fi
    sleep 0.2
  done
  echo "launch.sh: the MPS control daemon does not answer on $CUDA_MPS_PIPE_DIRECTORY; see" \\
    "$CUDA_MPS_LOG_DIRECTORY/control.log (nothing started)" >&2
  exit 1
}
start_mps
"""

_STOP = """#!/usr/bin/env bash
# {title}
# Stops the vLLM instances launch.sh started on node {node}: SIGTERM to each instance's
# process group, then SIGKILL to those still running after STOP_TIMEOUT_S seconds.
set -uo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
LOG_DIR="${{LOG_DIR:-$here/logs}}"
STOP_TIMEOUT_S="${{STOP_TIMEOUT_S:-60}}"
names=({names})
for name in "${{names[@]}}"; do
  [ -f "$LOG_DIR/$name.pid" ] && kill -TERM -- "-$(cat "$LOG_DIR/$name.pid")" 2>/dev/null
done
for name in "${{names[@]}}"; do
  [ -f "$LOG_DIR/$name.pid" ] || continue
  pid="$(cat "$LOG_DIR/$name.pid")"
  deadline=$((SECONDS + STOP_TIMEOUT_S))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$name did not stop in $STOP_TIMEOUT_S s: SIGKILL" >&2
    kill -KILL -- "-$pid" 2>/dev/null
  fi
  rm -f "$LOG_DIR/$name.pid"
  echo "stopped $name"
done
exit 0
"""


class VllmEmitter:
    """``vllm serve --config`` files, environments and per-node launch and stop scripts."""

    format = "vllm"
    folder = "vllm"

    def render(self, plan: LaunchPlan) -> dict[str, str]:
        files: dict[str, str] = {}
        for record in plan.records:
            if record.spans_nodes:
                raise EmitError(f"{record.name} spans nodes {[g.node for g in record.nodes]}, "
                                "which needs a Ray cluster", source=plan.source,
                                field="emit.formats", value="vllm",
                                fix="emit the kubernetes (LeaderWorkerSet) or ray_serve format "
                                    "for groups that span nodes")
        title = header(plan)
        for node in plan.nodes:
            records = sorted((r for r in plan.records if r.node == node),
                             key=lambda r: r.launch_order)
            for r in records:
                where = one_line(f"{r.llm} replica {r.replica} on node {r.node}, GPU(s) "
                                 f"{', '.join(map(str, r.gpus))}, {_describe(r)}")
                files[f"{node}/{r.name}.yaml"] = (
                    f"# {title}\n# vllm serve --config {one_line(r.name)}.yaml: {where}\n"
                    + to_yaml(serve_config(r)))
                body = "".join(f"{key}={sh(value)}\n" for key, value in env_lines(r))
                files[f"{node}/{r.name}.env"] = (
                    f"# Environment of {one_line(r.name)}: {where}\n{body}")
            files[f"{node}/launch.sh"] = _launch_script(plan, node, records, title)
            names = " ".join(sh(r.name) for r in reversed(records))
            files[f"{node}/stop.sh"] = _STOP.format(title=title, node=one_line(node),
                                                    names=names)
        return files

    def validate(self, files: dict[str, str]) -> None:
        options = load_options()["options"]
        for path, text in files.items():
            if path.endswith(".yaml"):
                validate_serve_config(yaml.safe_load(text), options, source=path)
            elif path.endswith(".env"):
                for number, line in enumerate(text.splitlines(), 1):
                    if line and not line.startswith("#"):
                        key = line.split("=", 1)[0]
                        if "=" not in line or not _ENV_KEY.match(key):
                            raise EmitError("not a KEY=value line", source=path,
                                            field=f"line {number}", value=line,
                                            fix="use environment variable names")
            elif path.endswith(".sh"):
                _check_shell(text, path)


def _launch_script(plan: LaunchPlan, node: str, records: list[InstanceRecord],
                   title: str) -> str:
    """The node's launch.sh: every value from the plan or the settings is one quoted shell
    word (:func:`~scepsy_opt.emit.base.sh`), every comment one line."""
    steps = "".join(
        f"\n# {one_line(r.name)}: {_describe(r)}"
        + (f"; shares GPU(s) with {one_line(', '.join(r.waits_for))}" if r.waits_for else "")
        + f"\nstart {sh(r.name)}\nwait_healthy {sh(r.name)} {sh(_health_host(r))} "
          f"{sh(r.port)}\n"
        for r in records)
    mps = _MPS_SETUP if plan.settings.vllm.mps_daemon and any(
        r.mechanism == MPS for r in records) else ""
    done = sh(f"node {node}: {len(records)} instance(s) healthy")
    return (_LAUNCH_HEAD.format(title=title, node=one_line(node),
                                timeout=plan.settings.vllm.health_timeout_s)
            + mps + steps + f"\ntrap - ERR\necho {done}\n")


def validate_serve_config(config: Any, options: dict[str, dict], *, source: str) -> None:
    """A serve config against vLLM's recorded ``vllm serve`` options and the plan's ranges."""
    if not isinstance(config, dict) or not config:
        raise EmitError("a serve config must be a non-empty mapping", source=source,
                        value=config, fix="emit again")
    for key, value in config.items():
        option = options.get(key)
        if option is None:
            raise EmitError("not an option of vllm serve", source=source, field=key,
                            value=value, fix="use a long option name of `vllm serve --help`")
        kind = option["kind"]
        ok = True
        if kind == "flag":
            ok = isinstance(value, bool)
        elif kind == "list":
            ok = isinstance(value, str | int | float | list) and not isinstance(value, bool)
        elif option.get("type") == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif option.get("type") == "float":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif option.get("type") == "str":
            ok = isinstance(value, str)
        if not ok:
            raise EmitError(f"wrong type for a {kind} option"
                            + (f" of type {option['type']}" if "type" in option else ""),
                            source=source, field=key, value=value,
                            fix="give the option a value vLLM's parser accepts")
        if "choices" in option and str(value) not in option["choices"]:
            raise EmitError("not one of the option's choices", source=source, field=key,
                            value=value, fix=f"use one of {option['choices']}")
        low, high = _RANGES.get(key, (None, None))
        if low is not None and not (isinstance(value, int) and low <= value <= high):
            raise EmitError(f"must be an integer in [{low}, {high}]", source=source,
                            field=key, value=value, fix="emit again from a valid plan")
    utilization = config.get("gpu-memory-utilization")
    if utilization is not None and not 0 < utilization <= 1:
        raise EmitError("must be in (0, 1]", source=source, field="gpu-memory-utilization",
                        value=utilization, fix="emit again from a valid plan")
    if "model" not in config:
        raise EmitError("the config names no model", source=source, field="model",
                        fix="emit again")


def _check_shell(text: str, source: str) -> None:
    bash = shutil.which("bash")
    if bash is None:
        return
    result = subprocess.run([bash, "-n"], input=text, capture_output=True, text=True,
                            timeout=30)
    if result.returncode != 0:
        raise EmitError(f"bash rejects the script: {result.stderr.strip()}", source=source,
                        fix="report this: the emitted script is malformed")


def _describe(r: InstanceRecord) -> str:
    if r.mechanism == "whole":
        return f"{r.tp} whole GPU(s), TP {r.tp}"
    if r.mechanism == MIG:
        return f"MIG {r.mig_profile} (device #{r.mig_ordinal} of that profile)"
    return (f"MPS share {r.gpu_fraction:g} of {r.tp} GPU(s): "
            f"{r.mps_active_thread_percentage}% of the SMs, {r.mps_pinned_memory_mib} MiB")
