"""scepsy_opt: plans GPU allocations for serving multi-LLM agentic workflows."""

__version__ = "0.1.0"
