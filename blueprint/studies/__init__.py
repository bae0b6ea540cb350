"""Measured studies that train models and write their figures to ``docs/measurements/``; run as modules.

- ``warm_start``: on digits, a trained ``digits_cnn`` to its BSConv variants from scratch, by ``init_from`` and by
  ``init_from`` with ``distill_from`` (``python -m blueprint.studies.warm_start``);
- ``cifar_shaped``: the same path at 32x32 with residual blocks, ``cifar_resnet20`` -> ``cifar_resnet20_bsconvu`` on
  the digits drawn as a CIFAR-10 set (``python -m blueprint.studies.cifar_shaped``).

Like the benchmarks they report figures and are not run by the tests.
"""
