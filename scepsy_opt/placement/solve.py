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

MIP start: with ``start=True`` the model's current variable values (a heuristic placement, set
by :func:`scepsy_opt.placement.formulation.set_start`) go to HiGHS through its
``read_solution_file`` option. The interface does not expose its column and row order
publicly, so the start is written from its variable and constraint maps when they are there;
otherwise the solve goes on without a start (the caller keeps the heuristic as its incumbent).
HiGHS checks the start and says whether it was feasible (``start_accepted``).

Every loaded solution is checked: its objective, evaluated by Pyomo, must equal the objective
HiGHS reports, else the solve counts as an error. HiGHS 1.16 with presolve on has returned the
start's values next to the objective of a better incumbent; such a solve is repeated once
without the start (in the time left).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass, replace

import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

from scepsy_opt.core.presets import SolverPreset

log = logging.getLogger(__name__)

OPTIMAL, FEASIBLE, NO_SOLUTION, INFEASIBLE, ERROR = (
    "optimal", "feasible", "no_solution", "infeasible", "error")
INCONSISTENT = "HiGHS reports objective"
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
    start_accepted: bool | None = None

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


def _write_start(solver, model: pyo.ConcreteModel, path: str) -> bool:
    """Write the model's variable values as a HiGHS solution file in the solver's column and
    row order; False when the interface does not expose that order."""
    columns = getattr(solver, "_pyomo_var_to_solver_var_map", None)
    rows = getattr(solver, "_pyomo_con_to_solver_con_map", None)
    if not isinstance(columns, dict) or not isinstance(rows, dict):
        return False
    variables = [v for v in model.component_data_objects(pyo.Var) if id(v) in columns]
    constraints = [c for c in model.component_data_objects(pyo.Constraint, active=True)
                   if c in rows]
    values = {id(v): v.value if v.value is not None else 0.0 for v in variables}
    free = [v for v in variables if not v.fixed]
    for v in free:  # row activities exclude the bodies' constants: evaluate them at zero
        v.set_value(0.0, skip_validation=True)
    constants = [pyo.value(c.body) for c in constraints]
    for v in free:
        v.set_value(values[id(v)], skip_validation=True)
    col = [0.0] * len(columns)
    for v in variables:
        col[columns[id(v)]] = values[id(v)]
    row = [0.0] * len(rows)
    for c, constant in zip(constraints, constants, strict=True):
        row[rows[c]] = pyo.value(c.body) - constant
    lines = ["Model status", "Unknown", "", "# Primal solution values", "Feasible",
             "Objective 0", f"# Columns {len(col)}"]
    lines += [f"c{j} {x:.17g}" for j, x in enumerate(col)]
    lines += [f"# Rows {len(row)}"] + [f"r{j} {x:.17g}" for j, x in enumerate(row)]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return True


def _objective_value(model: pyo.ConcreteModel) -> float | None:
    for objective in model.component_data_objects(pyo.Objective, active=True):
        return float(pyo.value(objective))
    return None


def solve(model: pyo.ConcreteModel, preset: SolverPreset, *, name: str, build_s: float,
          time_limit_s: float | None = None, start: bool = False) -> SolveReport:
    """Solve ``model`` with the preset's options (``time_limit_s`` overrides its time limit)
    and load the solution when there is one. ``start``: the model's variable values are a
    feasible solution to start from."""
    with tempfile.TemporaryDirectory() as folder:
        report = _solve(model, preset, name=name, build_s=build_s, time_limit_s=time_limit_s,
                        start=os.path.join(folder, "start.sol") if start else None)
    if start and report.status == ERROR and report.message.startswith(INCONSISTENT):
        limit = preset.time_limit_s if time_limit_s is None else time_limit_s
        log.warning("solving %s again without the start", name)
        again = _solve(model, preset, name=name, build_s=build_s,
                       time_limit_s=max(1.0, limit - report.solve_s), start=None)
        report = replace(again, solve_s=report.solve_s + again.solve_s,
                         start_accepted=report.start_accepted,
                         message=f"{report.message}; solved again without the start")
    return report


_UNSET = object()
_scheduler_threads: object = _UNSET  # the thread count HiGHS's scheduler was started with


def _use_threads(threads: int | None) -> None:
    """Start HiGHS's thread scheduler for ``threads`` (None: HiGHS's own choice).

    HiGHS starts one scheduler per process at its first solve, and a later solve that asks
    for another thread count fails (status error, no solution): a sweep over presets, or a
    preset's ``threads`` after a default solve, would silently lose the MILP. The scheduler is
    restarted whenever the count changes."""
    global _scheduler_threads
    if _scheduler_threads is not _UNSET and _scheduler_threads != threads:
        import highspy

        highspy.Highs.resetGlobalScheduler(True)
    _scheduler_threads = threads


def _solve(model: pyo.ConcreteModel, preset: SolverPreset, *, name: str, build_s: float,
           time_limit_s: float | None, start: str | None) -> SolveReport:
    limit = preset.time_limit_s if time_limit_s is None else max(0.01, time_limit_s)
    solver = SolverFactory("highs")
    options = dict(preset.options)
    options["random_seed"] = preset.random_seed
    started = time.perf_counter()
    variables, constraints = model.nvariables(), model.nconstraints()
    common = dict(model=name, build_s=build_s, variables=variables, constraints=constraints,
                  solver="highs", solver_version=solver_version(), time_limit_s=limit,
                  mip_rel_gap=preset.mip_rel_gap)
    given = False
    if start is not None:
        solver.set_instance(model)
        given = _write_start(solver, model, start)
        if given:
            options["read_solution_file"] = start
        else:
            log.info("the HiGHS interface hides its column order: solving without a start")
    _use_threads(preset.threads)
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
    message = ""
    if status in (OPTIMAL, FEASIBLE):
        results.solution_loader.load_vars()
        loaded = _objective_value(model)
        if loaded is not None and objective is not None and abs(loaded - objective) > 1e-6 * max(
                1.0, abs(objective)):
            message = f"{INCONSISTENT} {objective} but its solution evaluates to {loaded}"
            log.warning("%s on %s: not trusted", message, name)
            status = ERROR
    accepted = ("MIP start solution is feasible" in (results.solver_log or "")) if given \
        else None
    if status == ERROR:
        objective = None
    report = SolveReport(status=status, termination=termination.name, objective=objective,
                         bound=bound, gap=relative_gap(objective, bound), solve_s=elapsed,
                         start_accepted=accepted, message=message, **common)
    log.info("HiGHS %s on %s (%d variables, %d constraints): %s, objective %s, bound %s, "
             "%.2f s", report.solver_version, name, variables, constraints, status, objective,
             bound, elapsed)
    return report
