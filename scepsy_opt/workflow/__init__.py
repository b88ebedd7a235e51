"""Workflows: the program language, sampling, traces and their importers, and the analyze stage.

The stage's entry is :func:`scepsy_opt.workflow.stage.analyze_workflow`.
"""
