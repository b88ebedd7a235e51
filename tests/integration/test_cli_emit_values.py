"""Emit settings that would reach a launch script are checked when the run starts: a bad one
ends the run with exit 2, a clear message and no traceback, before anything is written."""

import pytest


@pytest.mark.parametrize("override, needle", [
    ("emit.vllm.host='127.0.0.1;touch {marker};true'", "emit.vllm.host: not a host to listen on"),
    ("emit.ray_serve.http_host='$(touch {marker})'", "emit.ray_serve.http_host: not a host"),
])
def test_a_hostile_host_is_refused_before_the_run(cli, tmp_path, override, needle):
    marker = tmp_path / "pwned"
    run_dir = tmp_path / "run"
    result = cli("+workflow=rag_reranker", override.format(marker=marker),
                 f"hydra.run.dir={run_dir}")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert needle in result.stderr and "Fix: use e.g. 0.0.0.0" in result.stderr
    written = sorted(p.name for p in run_dir.iterdir()) if run_dir.exists() else []
    assert not {"workflow_stats.json", "manifests", "plan.json"} & set(written), written
    assert not marker.exists()
