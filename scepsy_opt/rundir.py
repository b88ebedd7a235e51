"""A run directory's files: artifact documents read back (``from_json``) and every artifact
written, each atomically (the ``manifests/`` tree as a whole). :mod:`scepsy_opt.cli` decides
which directory; the stage runner (:mod:`scepsy_opt.pipeline`) says which files each stage
reads and writes."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, TypeVar

from scepsy_opt.core.artifacts import atomic_write_bytes, atomic_write_json, atomic_write_text
from scepsy_opt.core.catalog import load_yaml
from scepsy_opt.core.document import Document
from scepsy_opt.core.documents import DOCUMENTS
from scepsy_opt.core.errors import ConfigError, ScepsyError
from scepsy_opt.emit.stage import EmitResult
from scepsy_opt.report import Report
from scepsy_opt.report.sweep import SweepJob, job_row, summary_csv, summary_figure

log = logging.getLogger(__name__)
CURVES = "predicted_curves.json"
REPORT = "report.md"
PLACEMENT_FIGURE = "placement.png"
JOB_ERROR = "error.json"  # a failed job of a sweep: its error, for the sweep summary
SWEEP_CSV = "sweep_summary.csv"
SWEEP_FIGURE = "sweep_summary.png"
D = TypeVar("D", bound=Document)


def read_json(path: Path, field: str, fix: str, error: type[ScepsyError] = ConfigError) -> Any:
    """A JSON file; a missing or malformed file is a :class:`ScepsyError` naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"cannot read {path.name} ({exc.strerror})", source=str(path),
                    field=field, fix=fix) from None
    except json.JSONDecodeError as exc:
        raise error(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                    source=str(path), field=field,
                    fix="restore the file as the stage that wrote it left it") from None


def read_document(path: Path, kind: type[D], field: str, fix: str,
                  error: type[ScepsyError] = ConfigError) -> D:
    """The ``kind`` document at ``path``, validated (``field``, ``fix`` and ``error``: for a
    file that cannot be read or is not JSON)."""
    return kind.from_json(read_json(path, field, fix, error), str(path))


def load_artifact(run_dir: Path, name: str, fix: str | None) -> Any:
    """``name`` from ``run_dir``; ``fix`` ``None``: an optional artifact (``None`` when the
    directory has none), else what to do when it is missing."""
    path = run_dir / name
    if not path.is_file():
        if fix is None:
            return None
        raise ConfigError(f"the run directory has no {name}", source=str(run_dir),
                          field="from_run", fix=fix)
    kind = DOCUMENTS.get(name)
    fix = "re-run the stage that writes it"
    if kind is None:  # predicted_curves.json: its JSON object
        return read_json(path, "from_run", fix)
    return read_document(path, kind, "from_run", fix)


def manifest_folders(run_dir: Path) -> tuple[str, ...]:
    manifests = run_dir / "manifests"
    return tuple(f"manifests/{p.name}" for p in sorted(manifests.iterdir())
                 if p.is_dir()) if manifests.is_dir() else ()


def write_document(run_dir: Path, name: str, document: Document | dict) -> list[Path]:
    """One JSON artifact (a document's ``to_json``, or a JSON object), atomically."""
    value = document.to_json() if isinstance(document, Document) else document
    atomic_write_json(run_dir / name, value)
    return [run_dir / name]


def write_placement(figure: bytes, mps: str | None, run_dir: Path) -> list[Path]:
    """The cluster map ``placement.png`` and, when exported, the model as ``placement.mps``."""
    paths = [run_dir / PLACEMENT_FIGURE]
    atomic_write_bytes(paths[0], figure)
    if mps is not None:
        paths.append(run_dir / "placement.mps")
        atomic_write_text(paths[-1], mps)
    return paths


def write_tree(files: dict[str, str], target: Path, *, executable: tuple[str, ...] = (".sh",)
               ) -> list[Path]:
    """Write ``files`` (relative path -> text) as the folder ``target``, atomically as a whole:
    everything goes to a temporary folder beside it, which then replaces ``target``. A failure
    leaves the previous ``target`` (or none) untouched."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    old: Path | None = None
    try:
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            if path.suffix in executable:
                path.chmod(0o755)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old",
                                        dir=target.parent))
            os.replace(target, old / target.name)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not target.exists():
            os.replace(old / target.name, target)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return [target / relative for relative in files]


def write_emitted(emitted: EmitResult, run_dir: Path) -> list[Path]:
    """The ``manifests/`` tree (replaced as a whole) and ``plan.json``, as the emit stage
    rendered and validated them."""
    paths = []
    manifests = emitted.manifests()
    if manifests:
        paths += write_tree(manifests, run_dir / "manifests")
    for relative, text in emitted.top_level().items():
        atomic_write_text(run_dir / relative, text)
        paths.append(run_dir / relative)
    return paths


def write_report(report: Report, run_dir: Path) -> list[Path]:
    """``report.md`` and its figures, each atomically."""
    paths = []
    for name, data in report.figures.items():
        atomic_write_bytes(run_dir / name, data)
        paths.append(run_dir / name)
    atomic_write_text(run_dir / REPORT, report.markdown)
    return [*paths, run_dir / REPORT]


def _optional_json(path: Path) -> dict | None:
    return read_json(path, "from_run", "re-run the stage that writes it") if path.is_file() \
        else None


def read_sweep_jobs(sweep_dir: Path) -> list[SweepJob]:
    """Every job of a sweep directory (a folder with ``.hydra/config.yaml``), by job number."""
    jobs = []
    for config_path in sorted(sweep_dir.glob("*/.hydra/config.yaml")):
        job_dir = config_path.parent.parent
        hydra_yaml = job_dir / ".hydra" / "hydra.yaml"
        num = len(jobs)
        if hydra_yaml.is_file():
            num = int((load_yaml(hydra_yaml) or {}).get("hydra", {}).get("job", {})
                       .get("num", num))
        overrides_path = job_dir / ".hydra" / "overrides.yaml"
        overrides = load_yaml(overrides_path) if overrides_path.is_file() else []
        error = _optional_json(job_dir / JOB_ERROR)
        jobs.append(SweepJob(
            num=num, run_dir=str(job_dir), config=load_yaml(config_path) or {},
            overrides=tuple(str(o) for o in overrides or ()),
            allocation=load_artifact(job_dir, "allocation.json", None),
            placement=load_artifact(job_dir, "placement.json", None),
            evaluation=load_artifact(job_dir, "evaluation.json", None),
            error=None if error is None else error["error"]))
    return sorted(jobs, key=lambda job: job.num)


def write_sweep_summary(sweep_dir: Path) -> tuple[list[Path], list[str]]:
    """``sweep_summary.csv`` and ``sweep_summary.png`` of the jobs in ``sweep_dir``; also each
    job without a plan (failed, or stopped before writing anything), as ``job N: error``."""
    from scepsy_opt.report.figures import png_bytes

    rows = [job_row(job) for job in read_sweep_jobs(sweep_dir)]
    atomic_write_text(sweep_dir / SWEEP_CSV, summary_csv(rows))
    atomic_write_bytes(sweep_dir / SWEEP_FIGURE, png_bytes(summary_figure(rows)))
    failed = [f"job {r['job']} ({r['overrides']}): {r['error'] or r['status']}"
              for r in rows if r["status"] in ("failed", "incomplete")]
    return [sweep_dir / SWEEP_CSV, sweep_dir / SWEEP_FIGURE], failed
