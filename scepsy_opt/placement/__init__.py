"""The place stage: instances of an allocation onto nodes and GPUs."""
