"""The search stage: the allocation problem and the producers of allocations."""
