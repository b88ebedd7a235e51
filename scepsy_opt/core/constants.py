"""Named constants shared by every stage, each defined once."""

from __future__ import annotations

FRACTION_GRID = 8  # GPU fractions are multiples of 1/8

# Absolute slack of every capacity comparison (GPU compute shares, GiB), used by the one
# feasibility checker (scepsy_opt.core.feasibility): sums of grid fractions and memory budgets
# carry float rounding of ~1e-15; 1e-9 is far above that and far below any real
# over-commitment (the smallest share is 1/8, the smallest budget megabytes).
TOLERANCE = 1e-9

# The most nodes a cluster file may expand to (80,000 GPUs at 8 per node): far above what the
# place stage's MILP handles in its time limit, and a bound on the memory a cluster file can
# ask for (a count of 10**30 would otherwise build nodes until the machine runs out of memory).
MAX_CLUSTER_NODES = 10_000
# a call's time outside the engine (HTTP, router, client) beyond this is a unit mistake
MAX_SERVING_OVERHEAD_MS = 60_000.0
