"""A normal (non-editable) install ships conf/, models/ and solvers/ inside the wheel."""

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "outputs",
                              "multirun", "__pycache__", ".pytest_cache", ".benchmarks",
                              ".hypothesis", ".ruff_cache")


def run(*args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.slow
def test_wheel_install_runs_the_cli_from_another_directory(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=SKIP)
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "-w", str(wheels), str(source))
    (wheel,) = wheels.glob("scepsy_opt-*.whl")

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    python = venv / "bin" / "python"
    # Dependencies come from the test environment (no download); scepsy_opt from the wheel.
    site = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
                    ).stdout.strip())
    (site / "test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    where = run(str(python), "-c", "import scepsy_opt, scepsy_opt.core.resources as r; "
                "print(scepsy_opt.__file__); print(r.data_dir('conf'))",
                cwd=elsewhere, env=env).stdout.split()
    assert all(str(venv) in line for line in where), where
    assert where[1].endswith("scepsy_opt/_data/conf")

    run_dir = elsewhere / "run"
    result = run(str(python), "-m", "scepsy_opt", "+workflow=beam_search",
                 "analyze.num_requests=200", "stop_after=profile", f"hydra.run.dir={run_dir}",
                 cwd=elsewhere, env=env)
    assert "qwen2.5-math-prm-7b" in result.stdout
    stats = json.loads((run_dir / "workflow_stats.json").read_text())
    assert set(stats["llms"]) == {"qwen2.5-7b-instruct", "qwen2.5-math-prm-7b"}
    # The console script works too, and the solver presets shipped.
    result = run(str(venv / "bin" / "scepsy-opt"), "+workflow=rag_reranker",
                 "placement.solver_preset=fast", "analyze.num_requests=100", "fit=fast",
                 f"hydra.run.dir={elsewhere / 'run2'}", cwd=elsewhere, env=env)
    assert (elsewhere / "run2" / "workflow_stats.json").is_file()
    allocation = json.loads((elsewhere / "run2" / "allocation.json").read_text())
    assert set(allocation["llms"]) == {"bge-reranker-v2-gemma", "llama-3.1-70b-instruct",
                                       "llama-3.2-3b-instruct"}
    assert list((tmp_path / ".cache" / "scepsy_opt" / "fits").glob("*.npz"))  # the user cache
