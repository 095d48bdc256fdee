"""Conformance suites every implementation of an extension point must pass.

Subclass a suite in a test module and provide a factory; pytest collects the
inherited ``test_*`` methods::

    from hypertrail.testing import OptimizerConformance

    class TestMyOptimizer(OptimizerConformance):
        def make_optimizer(self):
            return MyOptimizer()
"""

from hypertrail.testing.optimizers import OptimizerConformance, conformance_spaces
from hypertrail.testing.storage import EventLogConformance

__all__ = ["EventLogConformance", "OptimizerConformance", "conformance_spaces"]
