"""A mix whose members share no llm is calibrated member by member: inside the mix, each
member's predictions are exactly those of its own surrogate at its share of the rate."""

import dataclasses

import numpy as np
import pytest

from scepsy_opt.config import compose_settings
from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.core.problem import problem_from_stats
from scepsy_opt.surrogate.stage import fit_surrogate, member_alone, separate_members
from scepsy_opt.workflow.stage import analyze_workflow


def test_a_mix_of_disjoint_members_predicts_each_member_as_fitted_alone(tmp_path):
    catalog = load_catalog()
    _, settings = compose_settings("rag_beam", "fit=fast", "analyze.num_requests=200",
                                   "cluster=dgx_h100", "fit.calibration.mix=members",
                                   catalog=catalog)
    assert separate_members(settings.workflow)
    analysis, tables = analyze_workflow(settings.workflow, settings.analyze,
        catalog)
    problem = problem_from_stats(analysis.combined, 0.3, settings.cluster,
                                 settings.profile.memory, settings.target.utilization_cap)
    fit = dataclasses.replace(settings.fit, cache_dir=tmp_path / "fits", workers=1)
    members_fit = fit
    fit = dataclasses.replace(fit, calibration=dataclasses.replace(fit.calibration, mix="joint"))
    mix, _, workflow_fit = fit_surrogate(settings.workflow, analysis, tables, problem, catalog,
                                         simulate=settings.simulate, settings=members_fit)
    assert len(workflow_fit.members) == 2 and workflow_fit.runs is None
    assert workflow_fit.calibration_runs == sum(
        len(m.runs.rate_rps) for m in workflow_fit.members) > 0
    assert np.shape(mix.load["p"]) == (2,)
    alone = []
    for index in range(2):  # each member fitted as a workflow of its own (from the cache)
        spec, member_analysis, member_problem = member_alone(settings.workflow, analysis,
                                                             problem, index)
        surrogate, _, member_fit = fit_surrogate(
            spec, member_analysis, {spec.name: tables[spec.name]}, member_problem, catalog,
            simulate=settings.simulate, settings=fit)
        assert member_fit.reused and member_fit.key == workflow_fit.members[index].key
        alone.append(surrogate)
    rng = np.random.default_rng(4)
    rate = 0.3
    for _ in range(6):
        tp = rng.choice([1.0, 2.0, 4.0], len(mix.llms))
        replicas = rng.integers(1, 4, len(mix.llms)).astype(float)
        fraction = rng.choice([0.5, 0.75, 1.0], len(mix.llms))
        inside = mix.predict(tp, replicas, fraction, rate)
        limits = []
        for index, (member, surrogate) in enumerate(zip(analysis.members, alone,
                                                        strict=True)):
            pick = [mix.llms.index(llm) for llm in surrogate.llms]
            own = surrogate.predict(tp[pick], replicas[pick], fraction[pick],
                                    rate * member.rate_fraction)
            assert float(inside["member_latency_s"][index]) == pytest.approx(
                float(own["latency_s"]), rel=1e-9)
            limits.append(float(own["throughput_rps"]) / member.rate_fraction)
        # the mix saturates with its weakest member
        assert float(inside["throughput_rps"]) == pytest.approx(min(limits), rel=1e-9)
