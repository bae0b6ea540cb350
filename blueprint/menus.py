"""The lists of names that the command line offers and the library runs, each kept once (no torch, no Numba).

Three lists of "backends" mean three things, so each has its own name:

- ``LAYER_BACKENDS``: what runs the BSConv layers of a model (``blueprint.use_backend``, ``blueprint train
  --backend``, ``blueprint bench training --backend``);
- ``VERIFY_BACKENDS``: the implementations that ``blueprint verify`` holds to the NumPy reference
  (``blueprint.verification``): its naive loops, accel, the PyTorch layers on each layer backend;
- ``TIMED_BACKENDS``: the implementations that ``blueprint bench layers`` times on ``TIMED_OPS``
  (``blueprint.benchmarks.ops``), each with its help in ``TIMED_BACKEND_HELP``.

The benchmarks' menus: ``LATENCY_RUNTIMES`` and ``LATENCY_PAIRS`` of ``blueprint bench latency``, and
``TRAINING_PAIRS`` of ``blueprint bench training``, each pair a (baseline, BSConv variant) of zoo names.
"""

from __future__ import annotations

LAYER_BACKENDS = ("torch", "accel")
VERIFY_BACKENDS = ("reference", "naive", "accel", "torch", "torch-accel")
# What each backend of `blueprint bench layers` calls (its --backends help).
TIMED_BACKEND_HELP = {
    "reference": "the vectorized NumPy reference (NumPy's BLAS)",
    "accel": "accel as blueprint's accel backend runs it: its products on PyTorch's BLAS, PyTorch's threads",
    "accel-direct": "accel as a user calls it: `import accel`, no matmul argument (accel.gemm's own tiles on "
    "Numba's threads)",
    "torch": "PyTorch's convolutions",
}
TIMED_BACKENDS = tuple(TIMED_BACKEND_HELP)
# The layers and step that `blueprint bench layers` times: the depthwise step of Eq. (7) alone besides the three.
TIMED_OPS = ("bsconv_u", "bsconv_s", "dsc", "depthwise")

LATENCY_RUNTIMES = ("eager", "fused", "compile", "onnxruntime", "accel")
# Table 1's MobileNets (CIFAR, x1), Table 2's ResNet/WRN pairs, one ImageNet pair.
LATENCY_PAIRS = (
    ("cifar_mobilenetv1_w1", "cifar_mobilenetv1_w1_bsconvu"),
    ("cifar_mobilenetv2_w1", "cifar_mobilenetv2_w1_bsconvs_p1d6"),
    ("cifar_mobilenetv3_large_w1", "cifar_mobilenetv3_large_w1_bsconvs_p1d6"),
    ("cifar_resnet20", "cifar_resnet110_bsconvu"),
    ("cifar_wrn40_3", "cifar_wrn40_8_bsconvu"),
    ("mobilenetv1_w1", "mobilenetv1_w1_bsconvu"),
)
LATENCY_QUICK_PAIRS = (("digits_cnn", "digits_cnn_bsconvs_p1d4"),)
# The demo's pair, Table 2's ResNet pair and Table 1's MobileNets at width 1/2.
TRAINING_PAIRS = (
    ("digits_cnn", "digits_cnn_bsconvu"),
    ("cifar_resnet20", "cifar_resnet110_bsconvu"),
    ("cifar_mobilenetv1_w1d2", "cifar_mobilenetv1_w1d2_bsconvu"),
    ("cifar_mobilenetv2_w1d2", "cifar_mobilenetv2_w1d2_bsconvs_p1d6"),
)
