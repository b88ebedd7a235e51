"""Instances sharing GPUs in the simulator: step times that depend on the active neighbours.

Every instance that shares a GPU with another registers here. When its engine starts a phase of
iterations it declares the phase's step (:class:`~scepsy_opt.core.contention.StepParts`), and
when it goes idle it withdraws it; each time, the step times of every instance on the GPUs it
spans are recomputed (:func:`~scepsy_opt.core.contention.gpu_times`: bandwidth water-filling,
SM oversubscription, the neighbour penalty), a TP instance's as the slowest of its GPUs, and
the neighbours whose step time changed are retimed from that instant (their progress so far is
kept, the rest of their phase runs at the new rate). Instances on GPUs of their own never come
here and run at their isolated speed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from scepsy_opt.core.contention import ContentionParams, StepParts, gpu_times

if TYPE_CHECKING:
    from scepsy_opt.sim.engine import Instance

RETIME_TOLERANCE = 1e-9  # a neighbour's step time changing less than this (relative) is kept


class SharedGpus:
    """The GPUs that more than one instance uses, and the steps active on them."""

    def __init__(self, members: Sequence[tuple[Instance, tuple[str, ...]]],
                 params: Mapping[str, ContentionParams]) -> None:
        self.params = dict(params)
        self.gpus_of: dict[int, tuple[str, ...]] = {}
        self.by_gpu: dict[str, list[Instance]] = {}
        self.steps: dict[int, StepParts | None] = {}
        self.local: dict[int, dict[str, float]] = {}
        for inst, gpus in members:
            self.gpus_of[inst.index] = gpus
            self.steps[inst.index] = None
            self.local[inst.index] = dict.fromkeys(gpus, 0.0)
            for gpu in gpus:
                self.by_gpu.setdefault(gpu, []).append(inst)

    def set_step(self, inst: Instance, step: StepParts | None, now: float) -> float:
        """``inst`` runs ``step`` from ``now`` (``None``: idle): its own step time (ms), after
        retiming every neighbour whose step time changed."""
        self.steps[inst.index] = step
        touched: dict[int, Instance] = {}
        for gpu in self.gpus_of[inst.index]:
            members = self.by_gpu[gpu]
            times, _ = gpu_times([self.steps[m.index] for m in members], self.params[gpu])
            for member, time in zip(members, times, strict=True):
                self.local[member.index][gpu] = time
                touched[member.index] = member
        own = 0.0
        for index, member in touched.items():
            if self.steps[index] is None:
                continue
            time = max(self.local[index].values())
            if member is inst:
                own = time
            elif abs(time - member.phase_step * 1e3) > RETIME_TOLERANCE * time:
                member.retime(now, time)
        return own
