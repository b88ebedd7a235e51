"""JSON schemas of the manifests the Kubernetes schemas do not cover, and their validation.

- ``leaderworkerset-v1.schema.json``: the LeaderWorkerSet CRD's schema (see ``SOURCE.md``);
  its pod templates refer to Kubernetes' own ``PodTemplateSpec`` definition, resolved against
  the definitions ``kubernetes-validate`` ships for the chosen Kubernetes version.
- ``ray-serve-config.schema.json``: the Ray Serve config fields the ray_serve emitter writes,
  after Ray Serve's documented config schema and ``LLMConfig``.
- ``plan.schema.json``: the canonical plan (``plan.json``).
- ``vllm-serve-options.json``: the options of ``vllm serve`` (see
  :mod:`scepsy_opt.emit.vllm_options`).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

from scepsy_opt.core.errors import EmitError

SCHEMA_DIR = Path(__file__).resolve().parent


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


def _raise(error, what: str, source: str) -> None:
    where = ".".join(str(p) for p in error.absolute_path) or "(document)"
    raise EmitError(f"{what}: {error.message}", source=source, field=where,
                    fix="report this: the emitted manifest is malformed") from None


def validate_json(document: Any, schema_name: str, *, source: str, what: str) -> None:
    """``document`` against the shipped schema ``schema_name`` (JSON Schema 2020-12)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        _raise(error, f"{what} breaks {schema_name}", source)


@functools.cache
def _kubernetes_definitions(version: str) -> tuple[str, dict[str, Any]]:
    """Kubernetes' strict definitions of the newest schema set not newer than ``version``."""
    from kubernetes_validate.utils import all_versions, major_minor

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in major_minor(v).split("."))

    wanted = key(version.lstrip("v"))
    known = [v for v in all_versions() if key(v) <= wanted]
    if not known:
        raise EmitError("no Kubernetes schemas for this version", source="config",
                        field="emit.kubernetes.version", value=version,
                        fix="use a version kubernetes-validate ships, e.g. 1.34")
    chosen = known[-1]
    path = resources.files("kubernetes_validate").joinpath(
        "kubernetes-json-schema", f"v{chosen}-local-strict", "_definitions.json")
    return chosen, json.loads(path.read_text(encoding="utf-8"))


def validate_leader_worker_set(document: Any, version: str, *, source: str) -> None:
    """A LeaderWorkerSet against its CRD schema, pod templates against Kubernetes ``version``."""
    import jsonschema
    from referencing import Registry, Resource

    _, definitions = _kubernetes_definitions(version)
    registry = Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))
    validator = jsonschema.Draft202012Validator(load_schema("leaderworkerset-v1.schema.json"),
                                                registry=registry)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        _raise(error, "LeaderWorkerSet breaks its CRD schema", source)
