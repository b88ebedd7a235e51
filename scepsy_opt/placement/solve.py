"""Solving a placement model with HiGHS through Pyomo's ``pyomo.contrib.solver`` interface.

The solver's termination is mapped to our own status, never trusted as is:

- ``optimal``: HiGHS met its optimality criterion (proven optimal within ``mip_rel_gap``);
- ``feasible``: a limit (time, iterations) stopped it with an incumbent;
- ``no_solution``: a limit stopped it before any incumbent;
- ``infeasible``: proven infeasible (or infeasible-or-unbounded, which a placement model with
  bounded variables only is when infeasible);
- ``error``: anything else, including the ``RuntimeError`` that Pyomo's HiGHS interfaces have
  raised on infeasible models.

A solution is loaded into the model only when HiGHS reports one. Objective, bound, gap, build
and solve times, and the solver version are recorded.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

from scepsy_opt.placement.presets import SolverPreset

log = logging.getLogger(__name__)

OPTIMAL, FEASIBLE, NO_SOLUTION, INFEASIBLE, ERROR = (
    "optimal", "feasible", "no_solution", "infeasible", "error")
_LIMITS = (TerminationCondition.maxTimeLimit, TerminationCondition.iterationLimit,
           TerminationCondition.interrupted, TerminationCondition.objectiveLimit)


@dataclass(frozen=True)
class SolveReport:
    """One solve of one model."""

    model: str
    status: str
    termination: str
    objective: float | None
    bound: float | None
    gap: float | None
    build_s: float
    solve_s: float
    variables: int
    constraints: int
    solver: str
    solver_version: str
    time_limit_s: float
    mip_rel_gap: float
    message: str = ""

    @property
    def has_solution(self) -> bool:
        return self.status in (OPTIMAL, FEASIBLE)


def solver_version() -> str:
    import highspy

    h = highspy.Highs
    try:
        return f"{highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}." \
               f"{highspy.HIGHS_VERSION_PATCH}"
    except AttributeError:  # older highspy: ask an instance
        instance = h()
        return f"{instance.versionMajor()}.{instance.versionMinor()}.{instance.versionPatch()}"


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None:
        return None
    return abs(objective - bound) / max(abs(objective), 1e-9) if objective else abs(bound)


def solve(model: pyo.ConcreteModel, preset: SolverPreset, *, name: str, build_s: float,
          time_limit_s: float | None = None) -> SolveReport:
    """Solve ``model`` with the preset's options (``time_limit_s`` overrides its time limit)
    and load the solution when there is one."""
    limit = preset.time_limit_s if time_limit_s is None else max(0.01, time_limit_s)
    solver = SolverFactory("highs")
    options = dict(preset.options)
    options["random_seed"] = preset.random_seed
    options["log_to_console"] = False
    started = time.perf_counter()
    variables, constraints = model.nvariables(), model.nconstraints()
    common = dict(model=name, build_s=build_s, variables=variables, constraints=constraints,
                  solver="highs", solver_version=solver_version(), time_limit_s=limit,
                  mip_rel_gap=preset.mip_rel_gap)
    try:
        results = solver.solve(
            model, load_solutions=False, raise_exception_on_nonoptimal_result=False,
            time_limit=limit, rel_gap=preset.mip_rel_gap, threads=preset.threads,
            solver_options=options)
    except (RuntimeError, ValueError) as error:
        # Pyomo's HiGHS interfaces have raised RuntimeError on infeasible models
        elapsed = time.perf_counter() - started
        log.warning("HiGHS failed on %s after %.2f s: %s", name, elapsed, error)
        return SolveReport(status=ERROR, termination=type(error).__name__, objective=None,
                           bound=None, gap=None, solve_s=elapsed, message=str(error), **common)
    elapsed = time.perf_counter() - started
    termination = results.termination_condition
    has_solution = results.solution_status in (SolutionStatus.feasible, SolutionStatus.optimal)
    if termination == TerminationCondition.convergenceCriteriaSatisfied and has_solution:
        status = OPTIMAL
    elif termination in _LIMITS:
        status = FEASIBLE if has_solution else NO_SOLUTION
    elif termination in (TerminationCondition.provenInfeasible,
                         TerminationCondition.infeasibleOrUnbounded,
                         TerminationCondition.locallyInfeasible):
        status = INFEASIBLE
    else:
        status = ERROR
    objective = results.incumbent_objective if has_solution else None
    bound = results.objective_bound
    if bound is not None and not abs(bound) < float("inf"):
        bound = None
    if status in (OPTIMAL, FEASIBLE):
        results.solution_loader.load_vars()
    report = SolveReport(status=status, termination=termination.name, objective=objective,
                         bound=bound, gap=relative_gap(objective, bound), solve_s=elapsed,
                         **common)
    log.info("HiGHS %s on %s (%d variables, %d constraints): %s, objective %s, bound %s, "
             "%.2f s", report.solver_version, name, variables, constraints, status, objective,
             bound, elapsed)
    return report
