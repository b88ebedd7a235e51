"""Regression on the reference MPS instances in solvers/instances/: HiGHS (through highspy
directly, no Pyomo) finds the recorded optimum of each file, and the place stage finds it for
the problem the file was written from."""

import json

import highspy
import pytest

from scepsy_opt.core.errors import PlacementError
from scepsy_opt.core.presets import SolverPreset
from scepsy_opt.core.resources import data_dir
from scepsy_opt.placement.stage import PlaceSettings, place
from scepsy_opt.testing.placement import reference_problems

FOLDER = data_dir("solvers") / "instances"
EXPECTED = json.loads((FOLDER / "expected.json").read_text())


def test_every_instance_has_a_file_and_a_problem():
    assert sorted(EXPECTED) == sorted(p.stem for p in FOLDER.glob("*.mps"))
    assert sorted(EXPECTED) == sorted(reference_problems())
    assert {e["status"] for e in EXPECTED.values()} == {"optimal", "infeasible"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_highspy_solves_the_mps_file_to_the_expected_objective(name):
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("threads", 2)
    assert h.readModel(str(FOLDER / f"{name}.mps")) == highspy.HighsStatus.kOk
    h.run()
    status = h.getModelStatus()
    expected = EXPECTED[name]
    if expected["status"] == "infeasible":
        assert status == highspy.HighsModelStatus.kInfeasible
    else:
        assert status == highspy.HighsModelStatus.kOptimal
        assert h.getInfo().objective_function_value == pytest.approx(expected["objective"],
                                                                     abs=1e-6)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_place_stage_finds_the_expected_objective(name):
    problem = reference_problems()[name]
    settings = PlaceSettings(SolverPreset("exact", time_limit_s=30, mip_rel_gap=0.0))
    expected = EXPECTED[name]
    if expected["status"] == "infeasible":
        with pytest.raises(PlacementError, match="no placement exists"):
            place(problem, settings)
    else:
        result = place(problem, settings)
        assert result.status == "optimal"
        assert result.metrics.objective == pytest.approx(expected["objective"], abs=1e-6)
