"""The profile stage: performance tables of llms on GPU types (roofline, vLLM, import).

Public API: :func:`predict_request` (calibrated roofline prediction of a batch of identical
requests), :func:`predict_colocated` (step times of instances sharing a GPU under MPS) and
:func:`~scepsy_opt.profile.stage.profile_llms` (the stage's entry).
"""

from scepsy_opt.profile.predict import (
    ColocatedInstance,
    ColocatedPrediction,
    RequestPrediction,
    predict_colocated,
    predict_request,
)

__all__ = ["ColocatedInstance", "ColocatedPrediction", "RequestPrediction",
           "predict_colocated", "predict_request"]
