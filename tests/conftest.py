"""Test-wide settings.

Hypothesis draws its examples from a fixed seed (``derandomize``), so a run of the suite is
reproducible and CI cannot pass or fail by the luck of the draw; no deadline, because no test
asserts a speed (benchmarks/ measures it).
"""

from hypothesis import settings

settings.register_profile("ntkdistill", derandomize=True, deadline=None)
settings.load_profile("ntkdistill")
