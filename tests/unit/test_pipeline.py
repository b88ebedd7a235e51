"""The stage runner's table: the stages in pipeline order, each stage's reads written by an
earlier stage (or, optionally, an earlier run's own output), and a re-run's missing artifact
named with its fix."""

import pytest

from scepsy_opt.config import RERUN_STAGES, STAGES
from scepsy_opt.core.errors import ConfigError
from scepsy_opt.pipeline import STAGE_TABLE, PipelineResult, _load


def test_the_table_runs_the_stages_in_order_and_reads_only_what_earlier_stages_write():
    names = [s.name for s in STAGE_TABLE]
    assert [n for n in names if n in STAGES] == list(STAGES)
    written: set[str] = set()
    for stage in STAGE_TABLE:
        for name in stage.reads:
            assert name in written, (stage.name, name)
        for name in stage.optional:  # place reads the earlier run's placement (its affinity)
            assert name in written | set(stage.writes), (stage.name, name)
        written.update(stage.writes)
    assert {s.name for s in STAGE_TABLE if s.rerun and s.reads} == set(RERUN_STAGES)


def test_a_rerun_names_the_missing_artifact_and_its_fix(tmp_path):
    place = next(s for s in STAGE_TABLE if s.name == "place")
    with pytest.raises(ConfigError, match="the run directory has no allocation.json.*"
                                          "Fix: re-run the whole pipeline"):
        _load(place, PipelineResult(), tmp_path)
    report = next(s for s in STAGE_TABLE if s.name == "report")
    (tmp_path / "workflow_stats.json").write_text("{not json")
    with pytest.raises(ConfigError, match="workflow_stats.json: from_run: malformed JSON"):
        _load(report, PipelineResult(), tmp_path)
