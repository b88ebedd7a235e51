"""Solver presets: the shipped ones read back as written, and a bad value or an option HiGHS
does not have is refused with the file, the option and the fix (asked of HiGHS itself for the
options the planner does not name)."""

from __future__ import annotations

import pytest

from scepsy_opt.core.errors import ConfigError
from scepsy_opt.core.presets import highs_refuses, read_preset
from scepsy_opt.core.resources import data_dir


def test_the_shipped_presets_read_back_as_written():
    presets = {p.stem: read_preset(p) for p in data_dir("solvers").glob("*.opt")}
    assert set(presets) == {"default", "fast", "thorough"}
    assert (presets["default"].time_limit_s, presets["default"].mip_rel_gap) == (60.0, 0.01)
    assert presets["fast"].time_limit_s == 10.0 and presets["thorough"].mip_rel_gap == 1e-4
    assert all(dict(p.options) == {"presolve": "on"} for p in presets.values())


@pytest.mark.parametrize("line, field, words", [
    ("time_limit = nan", "time_limit", "a number of seconds > 0"),
    ("time_limit = 0", "time_limit", "a number of seconds > 0"),
    ("time_limit = inf", "time_limit", "a number of seconds > 0"),
    ("mip_rel_gap = 1.5", "mip_rel_gap", "a relative gap >= 0 and < 1"),
    ("mip_rel_gap = -0.1", "mip_rel_gap", "a relative gap >= 0 and < 1"),
    ("threads = 0", "threads", "a whole number of threads >= 1"),
    ("threads = 2.5", "threads", "a whole number of threads >= 1"),
    ("random_seed = true", "random_seed", "a whole number >= 0"),
    ("presolve = maybe", "presolve", "out of the option's range"),
    ("no_such_option = 1", "no_such_option", "no such option"),
    ("mip_feasibility_tolerance = -1", "mip_feasibility_tolerance", "out of the option"),
    ("mip_feasibility_tolerance = nan", "mip_feasibility_tolerance", "not a finite number"),
])
def test_a_bad_option_is_refused_with_file_option_and_fix(tmp_path, line, field, words):
    path = tmp_path / "mine.opt"
    path.write_text(f"# a user's preset\ntime_limit = 30\n{line}\n")
    with pytest.raises(ConfigError) as error:
        read_preset(path)
    text = str(error.value)
    assert text.startswith(f"{path}: {field}: ") and words in text and "Fix:" in text


def test_options_highs_has_pass_through(tmp_path):
    assert highs_refuses("presolve", "off") == "" and highs_refuses("mip_heuristic_effort",
                                                                    0.3) == ""
    path = tmp_path / "mine.opt"
    path.write_text("time_limit = 5\nmip_heuristic_effort = 0.3\npresolve = off\n")
    preset = read_preset(path)
    assert preset.time_limit_s == 5.0
    assert dict(preset.options) == {"mip_heuristic_effort": 0.3, "presolve": "off"}


def test_presets_with_other_thread_counts_solve_one_after_another_in_one_process():
    """HiGHS fixes its thread scheduler at a process's first solve: without a restart, a later
    solve asking for another count ends with status error and the MILP's placement is lost."""
    from dataclasses import replace

    from scepsy_opt.core.catalog import expand_cluster, load_catalog, load_yaml
    from scepsy_opt.placement.stage import PlaceSettings, place
    from scepsy_opt.testing.placement import mixed_problem

    cluster = expand_cluster(load_yaml(data_dir("conf") / "cluster" / "dgx_h100_x2.yaml"),
                             load_catalog(), source="dgx_h100_x2")
    problem = mixed_problem(0, cluster, llms=3, instances=6)
    preset = read_preset(data_dir("solvers") / "default.opt")
    for threads in (1, 2, None, 2):
        result = place(problem, PlaceSettings(replace(preset, threads=threads)))
        assert (result.method, result.status) == ("milp", "optimal"), threads
