"""The place stage: instances of an allocation onto nodes and GPUs.

- :mod:`~scepsy_opt.core.placement`: the placement problem (instance classes, TP domains,
  MIG profiles, anti-affinity, topology) and the objective's weights;
- :mod:`~scepsy_opt.placement.formulation`: the Pyomo models (flat, node-level with occupancy
  patterns or aggregate capacities), MIP starts and extraction;
- :mod:`~scepsy_opt.placement.solve`: HiGHS through ``pyomo.contrib.solver``, our own status;
- :mod:`~scepsy_opt.placement.stage`: :func:`~scepsy_opt.placement.stage.place`, the entry;
- :mod:`~scepsy_opt.core.heuristics`: first fit, best-fit decreasing, diagnosis;
- :mod:`~scepsy_opt.placement.verify`: the independent verifier and the metrics;
- :mod:`~scepsy_opt.core.packing`: the allocation-level first-fit placers the simulator
  and the search use;
- :mod:`~scepsy_opt.placement.artifact`, :mod:`~scepsy_opt.placement.plot`: ``placement.json``
  and the cluster map.
"""
