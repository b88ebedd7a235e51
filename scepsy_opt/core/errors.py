"""Typed errors of every stage.

A user-facing error names the input (a file, a config key), the offending value and how to fix
it. The CLI prints ``str(error)`` without a traceback and exits with :data:`EXIT_CODE`.
"""

from __future__ import annotations

from typing import Any

EXIT_CODE = 2


class ScepsyError(Exception):
    """Base of every error the product raises on purpose.

    ``source`` is the file or config group the bad value came from, ``field`` the key path inside
    it, ``value`` the offending value, ``problem`` what is wrong and ``fix`` what to do about it.
    """

    _NO_VALUE = object()

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        field: str | None = None,
        value: Any = _NO_VALUE,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.field = field
        self.value = value
        self.fix = fix
        super().__init__(self._format())

    def _format(self) -> str:
        where = ": ".join(part for part in (self.source, self.field) if part)
        text = f"{where}: {self.problem}" if where else self.problem
        if self.value is not self._NO_VALUE:
            text += f" (got {_short_repr(self.value)})"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


def _short_repr(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ConfigError(ScepsyError):
    """A Hydra configuration value is missing, malformed or out of range."""


class CatalogError(ScepsyError):
    """An llm, GPU or cluster entry is unknown or its spec file is malformed."""


class WorkflowError(ScepsyError):
    """A workflow program is malformed (unknown node kind, bad distribution, unbounded loop...)."""


class TraceError(ScepsyError):
    """A recorded trace is malformed (missing fields, unknown parents, dependency cycle...)."""


class AnalyzeError(ScepsyError):
    """Workflow statistics cannot be computed from the given requests."""


class PlacementError(ScepsyError):
    """The instances of an allocation do not fit the cluster (the message names the node, GPU or
    NVLink domain that lacks room, and what it lacks)."""


class PlacementVerificationError(ScepsyError):
    """A placement breaks a constraint of its problem (a solver or heuristic result that the
    independent verifier rejects)."""


class EmitError(ScepsyError):
    """Launch manifests cannot be emitted for a plan: the plan breaks a cross-stack rule
    (fractions on a GPU above 1, a TP group on unequal GPUs...), a setting of ``emit`` cannot
    work, or a rendered manifest fails its schema."""


class UnsupportedPlanError(EmitError):
    """One manifest format's stack cannot run the plan as placed (Ray cannot pin GPU ids or
    schedule MIG slices): the other formats can still be written."""


class ArtifactError(ScepsyError):
    """An artifact of a run directory (``allocation.json``, ``placement.json``...) is not the
    document its stage writes: a field is missing or of the wrong type, or it has a schema
    version this release does not read."""


class OutputError(ScepsyError):
    """An output cannot be written: its folder is read-only or missing, the disk is full, or a
    path would land outside its output directory. ``source`` names the path."""


def not_utf8(exc: UnicodeDecodeError, source: str, error: type[ScepsyError],
             field: str | None = None) -> ScepsyError:
    """The error for an input file that is not UTF-8 text (a binary file, a stray byte)."""
    bad = exc.object[exc.start:exc.end]
    return error(f"not UTF-8 text: the byte(s) {bad.hex(' ')} cannot be decoded",
                 source=source, field=field,
                 fix="save the file as UTF-8 text (binary or other encodings are not read)")
