"""GPU sharing and shared fate: the fault domains of a placed plan, and the isolation rule.

*Fault domains.* Under NVIDIA MPS on Volta and later GPUs, a fatal GPU fault of one MPS client
is reported to every client that shares the faulting GPU, and they must all exit; the fault is
contained within the GPUs shared by the clients of the faulting GPU (CUDA MPS guide, section
2.3.7). A tensor-parallel instance is one engine on every GPU of its group, so a fault on any of
them takes it down, and with it every client of its other GPUs. The *fault domain* of an
instance is therefore the connected component, in the graph of instances linked by sharing a
GPU, that holds it: what one fault can take down. An instance on whole GPUs shares none, so its
domain is itself; MIG slices are isolated by the hardware (a fault in one slice does not reach
another), so a MIG instance is its own domain too. :func:`fault_domains` is the one
computation (emit's ``plan.json`` and the report use it).

*Isolation* (``emit.mps.isolation``, which ``placement.isolation`` follows): groups of llms
that must not share a GPU. A group of two or more llms: no GPU hosts instances of two different
llms of the group. A group of one llm: no GPU hosts it beside any other llm (its own replicas
may share one). The rule holds whatever the fraction mechanism (under MIG it keeps the llms
off one GPU entirely, more than fault containment needs). :func:`isolation_pairs` turns the
groups into the llm pairs that may not share a GPU, the one form the placers, the MILP, the
verifier and emit's plan check use; :func:`isolation_conflicts` finds the GPUs that break it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scepsy_opt.core.settings import check

ISOLATION_SETTING = "emit.mps.isolation"
ISOLATION_EXAMPLE = "e.g. [[planner, coder]] (no GPU hosts both) or [[coder]] (coder shares " \
                    "no GPU with another llm)"

GpuKey = tuple[str, int]  # (node id, GPU index on the node)
MIG = "mig"  # the mechanism whose slices the hardware isolates
Groups = tuple[tuple[str, ...], ...]


# ----------------------------------------------------------------------------- fault domains

@dataclass(frozen=True)
class Tenant:
    """One instance as fault domains see it: its ``name`` and ``llm``, the GPUs it runs on
    (every pipeline stage's), and whether the hardware isolates it there (a MIG slice)."""

    name: str
    llm: str
    gpus: tuple[GpuKey, ...]
    isolated: bool = False

    @classmethod
    def of(cls, name: str, llm: str, groups: Iterable[tuple[str, Iterable[int]]],
           mechanism: str) -> Tenant:
        """An instance of ``groups`` (per pipeline stage its node and GPU ids) whose GPU share
        is enforced by ``mechanism`` (``whole``, ``mps`` or ``mig``; MIG slices are isolated)."""
        return cls(name, llm, tuple((node, int(g)) for node, gpus in groups for g in gpus),
                   isolated=mechanism == MIG)


@dataclass(frozen=True)
class FaultDomain:
    """Instances that one fault can take down together, their llms and the GPUs they cover."""

    id: int
    instances: tuple[str, ...]
    llms: tuple[str, ...]
    gpus: tuple[GpuKey, ...]

    @property
    def size(self) -> int:
        return len(self.instances)


@dataclass(frozen=True)
class GpuFate:
    """One used GPU: the instances that a fault on it takes down directly (every client that
    is not a MIG slice) and their fault domain (None: only MIG slices, each its own)."""

    node: str
    gpu: int
    shared_fate: tuple[str, ...]
    domain: int | None


@dataclass(frozen=True)
class FaultDomains:
    """Every instance's fault domain (largest first) and every used GPU's fate."""

    domains: tuple[FaultDomain, ...]
    gpus: tuple[GpuFate, ...]

    @property
    def shared(self) -> tuple[FaultDomain, ...]:
        """The domains of more than one instance."""
        return tuple(d for d in self.domains if d.size > 1)

    @property
    def max_instances(self) -> int:
        """The most instances one fault can take down (0 without instances)."""
        return max((d.size for d in self.domains), default=0)

    def domain_of(self, name: str) -> FaultDomain:
        for d in self.domains:
            if name in d.instances:
                return d
        raise KeyError(name)


def fault_domains(tenants: Sequence[Tenant]) -> FaultDomains:
    """The fault domains of ``tenants``: instances that are not MIG slices and share a GPU
    are linked, and a domain is a connected component of those links (union-find). Domains are
    numbered largest first, ties in the order of their first instance; instances, llms and
    GPUs keep the order of ``tenants`` (GPUs sorted)."""
    parent = list(range(len(tenants)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    on_gpu: dict[GpuKey, list[int]] = defaultdict(list)
    for i, t in enumerate(tenants):
        for key in dict.fromkeys(t.gpus):
            on_gpu[key].append(i)
    for members in on_gpu.values():
        sharing = [i for i in members if not tenants[i].isolated]
        for i in sharing[1:]:
            a, b = root(sharing[0]), root(i)
            if a != b:
                parent[max(a, b)] = min(a, b)
    components: dict[int, list[int]] = defaultdict(list)
    for i in range(len(tenants)):
        components[root(i)].append(i)
    ordered = sorted(components.values(), key=lambda members: (-len(members), members[0]))
    domains, index = [], {}
    for number, members in enumerate(ordered):
        gpus = sorted({key for i in members for key in tenants[i].gpus})
        domains.append(FaultDomain(
            number, tuple(tenants[i].name for i in members),
            tuple(dict.fromkeys(tenants[i].llm for i in members)), tuple(gpus)))
        index.update(dict.fromkeys(members, number))
    fates = []
    for (node, gpu), members in sorted(on_gpu.items()):
        sharing = [i for i in members if not tenants[i].isolated]
        fates.append(GpuFate(node, gpu, tuple(tenants[i].name for i in sharing),
                             index[sharing[0]] if sharing else None))
    return FaultDomains(tuple(domains), tuple(fates))


# ----------------------------------------------------------------------------- isolation

def isolation_groups(value: Any, field: str) -> Groups:
    """``value`` (the setting: a list of lists of llm ids) as groups of llm ids, each without
    repeats, repeated groups dropped; :class:`~scepsy_opt.core.errors.ConfigError` naming
    ``field`` otherwise."""
    check(isinstance(value, list | tuple), field, "must be a list of groups of llm ids", value,
          f"write {ISOLATION_EXAMPLE}")
    groups: list[tuple[str, ...]] = []
    for i, group in enumerate(value):
        check(isinstance(group, list | tuple) and bool(group), f"{field}[{i}]",
              "must be a non-empty list of llm ids", group, f"write {ISOLATION_EXAMPLE}")
        for llm in group:
            check(isinstance(llm, str) and bool(llm.strip()), f"{field}[{i}]",
                  "an llm id must be a non-empty string", llm, f"write {ISOLATION_EXAMPLE}")
        members = tuple(dict.fromkeys(group))
        if members not in groups:
            groups.append(members)
    return tuple(groups)


def isolation_pairs(groups: Groups, llms: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """The pairs ``(a, b)``, ``a < b``, of ``llms`` that may not share a GPU under ``groups``
    (group members that are not among ``llms`` are left out), sorted."""
    present = list(dict.fromkeys(llms))
    known = set(present)
    pairs: set[tuple[str, str]] = set()
    for group in groups:
        if len(group) == 1:
            alone = group[0]
            found = [(alone, other) for other in present if other != alone] \
                if alone in known else []
        else:
            members = [llm for llm in group if llm in known]
            found = [(a, b) for i, a in enumerate(members) for b in members[i + 1:]]
        pairs.update((min(a, b), max(a, b)) for a, b in found)
    return tuple(sorted(pairs))


def unknown_llms(groups: Groups, llms: Iterable[str]) -> list[str]:
    """Llm ids of ``groups`` that are not among ``llms``, in the groups' order."""
    known = set(llms)
    return list(dict.fromkeys(llm for group in groups for llm in group if llm not in known))


def isolation_conflicts(pairs: Iterable[tuple[str, str]],
                        occupants: Mapping[GpuKey, Iterable[str]]
                        ) -> list[tuple[GpuKey, str, str]]:
    """Every ``(GPU, a, b)`` where a GPU hosts llms ``a`` and ``b`` of a pair of ``pairs``
    (``occupants``: per GPU the llms of its instances), GPUs sorted."""
    forbidden = set(pairs)
    out = []
    for key in sorted(occupants):
        here = sorted(set(occupants[key]))
        out += [(key, a, b) for i, a in enumerate(here) for b in here[i + 1:]
                if (a, b) in forbidden]
    return out


def describe_groups(groups: Groups) -> str:
    """The groups as the setting writes them: ``[[planner, coder], [judge]]``."""
    return "[" + ", ".join("[" + ", ".join(group) + "]" for group in groups) + "]"
