"""The profile stage: performance tables of llms on GPU types (roofline, vLLM, import).

Public API: :func:`predict_request` (calibrated roofline prediction of a batch of identical
requests) and :func:`~scepsy_opt.profile.stage.profile_llms` (the stage's entry).
"""

from scepsy_opt.profile.predict import RequestPrediction, predict_request

__all__ = ["RequestPrediction", "predict_request"]
