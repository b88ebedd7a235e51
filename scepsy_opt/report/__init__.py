"""The report stage: ``report.md`` and its figures from a run's artifacts (pure functions; the
CLI writes the files)."""

from scepsy_opt.report.curves import predicted_curves
from scepsy_opt.report.stage import Report, ReportInputs, build_report

__all__ = ["Report", "ReportInputs", "build_report", "predicted_curves"]
