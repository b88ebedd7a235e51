"""Write the reference MPS instances of the placement MILP (``solvers/instances/``) with their
expected results, from :func:`scepsy_opt.testing.placement.reference_problems`.

    python benchmarks/placement_reference_instances.py

Each problem's flat model is written as ``<name>.mps``; the expected optimal objective comes
from the brute-force enumerator (independent of the MILP) and must match what HiGHS finds for
the file (``tests/unit/placement/test_reference_instances.py`` solves each with ``highspy``).
"""

from __future__ import annotations

import json
from pathlib import Path

from scepsy_opt.core.resources import data_dir
from scepsy_opt.placement.formulation import build_flat
from scepsy_opt.placement.stage import write_mps
from scepsy_opt.testing.placement import brute_force, reference_problems


def main() -> None:
    folder = Path(data_dir("solvers")) / "instances"
    folder.mkdir(exist_ok=True)
    expected = {}
    for name, problem in reference_problems().items():
        (folder / f"{name}.mps").write_text(write_mps(build_flat(problem)))
        _, objective, leaves = brute_force(problem)
        expected[name] = {
            "status": "optimal" if objective is not None else "infeasible",
            "objective": objective,
            "brute_force_placements": leaves,
            "instances": problem.num_instances,
            "gpus": problem.cluster.num_gpus,
        }
        print(name, expected[name])
    (folder / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    main()
