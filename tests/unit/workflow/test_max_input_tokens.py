"""``max_input_tokens``: the caller truncates a growing prompt (a call's known answer), bad
values are refused, and every shipped workflow's calls fit their llm's context window."""

from __future__ import annotations

import numpy as np
import pytest

from scepsy_opt.core.errors import WorkflowError
from scepsy_opt.testing import LinearDurations
from scepsy_opt.workflow.program import parse_program
from scepsy_opt.workflow.sampler import sample_program

GROWING = {"loop": {"count": 10, "body": {"call": {
    "llm": "m", "input_tokens": 100, "output_tokens": 5, "input_growth_tokens": 50,
    "max_input_tokens": 300}}}}


def test_a_growing_prompt_is_truncated_at_max_input_tokens():
    table = sample_program(parse_program(GROWING, source="t"), 3, seed=0,
                           durations=LinearDurations(), source="t")
    # iteration i: 100 + 50 i tokens, truncated at 300 (i >= 4)
    expected = np.minimum(100 + 50 * np.arange(10), 300)
    for request in np.unique(table.request):
        rows = np.flatnonzero(table.request == request)
        ordered = table.input_tokens[rows[np.argsort(table.start_s[rows], kind="stable")]]
        assert ordered.tolist() == expected.tolist()


@pytest.mark.parametrize("value", [0, -5, 2.5, True, "4096"])
def test_a_bad_max_input_tokens_is_refused(value):
    raw = {"call": {"llm": "m", "input_tokens": 10, "output_tokens": 1,
                    "max_input_tokens": value}}
    with pytest.raises(WorkflowError, match="max_input_tokens must be a whole number"):
        parse_program(raw, source="w.yaml")


@pytest.mark.parametrize("workflow", ["rag_reranker", "beam_search", "rag_beam",
                                      "map_reduce_summarization", "multi_agent_coding",
                                      "react_tool_agent"])
def test_every_shipped_workflows_calls_fit_their_llms_context(compose, catalog, workflow):
    from scepsy_opt.workflow.stage import analyze_workflow

    _, settings = compose(workflow, "analyze.num_requests=300")
    analysis, _ = analyze_workflow(settings.workflow, settings.analyze, catalog)
    for stats in analysis.combined.llms:
        longest = stats.input_tokens.max + stats.output_tokens.max
        assert longest <= catalog.llms[stats.llm].max_context_tokens, stats.llm
