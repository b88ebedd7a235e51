"""A run directory's files: artifact documents read back (``from_json``) and every artifact
written, each atomically (the ``manifests/`` tree as a whole). :mod:`scepsy_opt.cli` decides
which directory; the stage runner (:mod:`scepsy_opt.pipeline`) says which files each stage
reads and writes, stages them in a temporary folder (:func:`staging`) and commits them
together (:func:`commit`). A tree of files is written only inside its folder
(:func:`inside`)."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from scepsy_opt.core.artifacts import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    file_mode,
    make_dir,
    output_error,
    temporary_dir,
)
from scepsy_opt.core.catalog import load_yaml
from scepsy_opt.core.document import Document
from scepsy_opt.core.documents import DOCUMENTS
from scepsy_opt.core.errors import ConfigError, OutputError, ScepsyError
from scepsy_opt.core.parallel import interrupts_deferred
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
STAGING = ".outputs"  # the prefix of a run's staging folder
# what the temporary files and folders of the writers here are named (tempfile's 8 characters)
TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.(tmp|old)")
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


def inside(folder: Path, relative: str) -> Path:
    """``folder / relative``, refused (an :class:`OutputError`, before anything is written)
    when ``relative`` is absolute or climbs out of ``folder`` (``..``)."""
    parts = Path(relative).parts
    if not relative or Path(relative).is_absolute() or ".." in parts or not parts:
        raise OutputError("a file would be written outside its folder", source=str(folder),
                          value=relative,
                          fix="name every llm, node and instance without '/' or '..' (the "
                              "names of emitted files come from them)")
    return folder / relative


def write_tree(files: dict[str, str], target: Path, *, executable: tuple[str, ...] = (".sh",)
               ) -> list[Path]:
    """Write ``files`` (relative path -> text) as the folder ``target``, atomically as a whole:
    everything goes to a temporary folder beside it, which then replaces ``target``. A failure
    leaves the previous ``target`` (or none) untouched; a path outside ``target`` is refused
    before anything is written."""
    for relative in files:
        inside(target, relative)
    make_dir(target.parent)
    staging = temporary_dir(target)
    try:
        for relative, text in files.items():
            path = inside(staging, relative)
            _write_file(path, text, executable=path.suffix in executable)
        replace_all(staging, target.parent, {target.name: staging})
    except OSError as exc:
        raise output_error(Path(exc.filename) if exc.filename else target, exc) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [target / relative for relative in files]


def _write_file(path: Path, text: str, *, executable: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    if executable:
        path.chmod(file_mode(executable=True))


def replace_all(staging: Path, folder: Path, entries: dict[str, Path | None]) -> None:
    """Put each ``entries`` value at ``folder / name`` (None: remove what is there), all or
    nothing: what is there first moves to a temporary folder, then the new entries move in; a
    failure puts everything back. Ctrl-C waits until it is done."""
    trash = temporary_dir(folder / staging.name, suffix=".old")
    moved: list[str] = []
    placed: list[str] = []
    try:
        with interrupts_deferred():
            try:
                for name in entries:
                    if os.path.lexists(folder / name):
                        os.replace(folder / name, trash / name)
                        moved.append(name)
                for name, source in entries.items():
                    if source is not None:
                        os.replace(source, folder / name)
                        placed.append(name)
            except OSError:
                for name in reversed(placed):
                    os.replace(folder / name, entries[name])
                for name in reversed(moved):
                    os.replace(trash / name, folder / name)
                raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


@contextmanager
def staging(run_dir: Path) -> Iterator[Path]:
    """A temporary folder in ``run_dir`` that a run's outputs are written to before
    :func:`commit` (removed on the way out, whatever happens). Temporaries of an earlier run
    that was killed are removed first."""
    make_dir(run_dir)
    remove_temporaries(run_dir)
    folder = temporary_dir(run_dir / STAGING)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_writable(folder: Path) -> None:
    """An :class:`OutputError` when ``folder`` cannot be made or written (a probe folder is
    made and removed in it, or in the nearest folder above it that exists)."""
    existing = folder
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(existing))
        os.rmdir(tempfile.mkdtemp(prefix=".probe.", dir=existing))
    except OSError as exc:
        raise output_error(folder, exc) from None


def remove_temporaries(run_dir: Path) -> None:
    """The temporary files and folders a killed run left in ``run_dir``."""
    for path in run_dir.iterdir():
        if TEMPORARY.fullmatch(path.name):
            log.info("removing %s, left by an interrupted run", path)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def commit(staged: Path, run_dir: Path, stale: Iterable[str] = ()) -> None:
    """Move everything in ``staged`` into ``run_dir`` (replacing what is there) and remove the
    ``stale`` artifacts (names in ``run_dir``; a trailing ``/``: a folder), all or nothing."""
    entries: dict[str, Path | None] = {name.rstrip("/"): None for name in stale}
    entries.update({path.name: path for path in sorted(staged.iterdir())})
    try:
        replace_all(staged, run_dir, entries)
    except OSError as exc:
        raise output_error(Path(exc.filename) if exc.filename else run_dir, exc) from None


def write_emitted(emitted: EmitResult, run_dir: Path) -> list[Path]:
    """The ``manifests/`` tree (replaced as a whole) and ``plan.json``, as the emit stage
    rendered and validated them."""
    paths = []
    manifests = emitted.manifests()
    if manifests:
        paths += write_tree(manifests, run_dir / "manifests")
    for relative, text in emitted.top_level().items():
        paths.append(inside(run_dir, relative))
        atomic_write_text(paths[-1], text)
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
