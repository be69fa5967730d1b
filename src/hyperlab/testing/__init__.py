"""Generic conformance suites shipped with the package (after Optuna's ``pytest_samplers``).

``hyperlab.testing.tuners`` checks any tuner factory and ``hyperlab.testing.pruners`` any
pruner factory, so third-party extensions can run the same checks as the built-ins.
"""
