"""Named constants shared by every stage, each defined once."""

from __future__ import annotations

FRACTION_GRID = 8  # GPU fractions are multiples of 1/8

# Absolute slack of every capacity comparison (GPU compute shares, GiB), used by the one
# feasibility checker (scepsy_opt.core.feasibility): sums of grid fractions and memory budgets
# carry float rounding of ~1e-15; 1e-9 is far above that and far below any real
# over-commitment (the smallest share is 1/8, the smallest budget megabytes).
TOLERANCE = 1e-9
