"""The paper's equivalences as data: what ``blueprint verify`` and the property tests check.

Each ``Equation`` names the equation it proves, states it in one line (its math in single backquotes, in the
ASCII notation that the book typesets: ``docs/ascii_math.py``), draws a random case
(``reference.cases``) and measures it: ``equation.measure(case)`` is the largest ``deviation`` between
the two sides (relative to the expected side's largest entry), to be at most ``equation.tolerance(case)``.
The entries call ``reference``'s and ``reference.naive``'s functions through their modules, so a fault
put into one of them (a test does that) is what the entry measures.

``EQUATIONS`` holds the entries that need NumPy alone; ``agreement`` makes the cross-backend ones
(``blueprint.verification`` adds accel and the PyTorch layers).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from typing import Callable

import numpy as np

import reference
from reference import naive
from reference.cases import Case, deviation, draw_blueprint_kernel, draw_operands, draw_w_b

TOLERANCE = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}
#: Central differences (float64, step 1e-6) of functions that are linear in each entry: rounding only.
DIFFERENCE_TOLERANCE = 1e-6
STEP = 1e-6

LABELS = {"conv2d": "Eq. (1)", "dsc": "Sec. 4.1", "bsconv_u": "Eq. (6)-(7)", "bsconv_s": "Eq. (12)-(14)"}
GRADIENTS = {
    "conv2d": "dx, dW, db",
    "dsc": "dx, dB', dW, db",
    "bsconv_u": "dx, dW, dB, db",
    "bsconv_s": "dx, dW^B, dW^A, dB, db",
}


def by_dtype(case: Case) -> float:
    return TOLERANCE[case.dtype]


def by_difference(case: Case) -> float:
    return DIFFERENCE_TOLERANCE


@dataclass(frozen=True)
class Equation:
    """One checkable statement: ``key`` selects it (``blueprint verify --equation``), ``name`` is the paper's.

    Entries with the same ``stream`` (all the backends' agreement entries of one op) are run on the same
    cases by ``blueprint verify``; it defaults to the key.
    """

    key: str
    name: str
    statement: str
    backends: tuple
    draw: Callable  # rng -> Case
    measure: Callable  # Case -> error
    tolerance: Callable = by_dtype  # Case -> largest allowed error
    stream: str = ""

    def __post_init__(self):
        if not self.stream:
            object.__setattr__(self, "stream", self.key)


def _forward(module, op, case):
    return getattr(module, f"{op}_forward")(*case.operands, **case.geometry)


def _spatial(case):
    return {k: case.geometry[k] for k in ("stride", "padding", "dilation")}


def eq3(case):
    """A (grouped) conv2d against the sum over its input channels of one-channel convolutions (loops)."""
    x, w, b = case.operands
    y, _ = reference.conv2d_forward(x, w, b, **case.geometry)
    n_g, m_g = w.shape[0] // case.geometry["groups"], w.shape[1]
    total = np.zeros_like(y)  # B,N,Ho,Wo
    if b is not None:
        total += b[None, :, None, None]
    for channel in range(x.shape[1]):
        group, m = divmod(channel, m_g)
        filters = slice(group * n_g, (group + 1) * n_g)
        part, _ = naive.conv2d_forward(x[:, channel : channel + 1], w[filters, m : m + 1], **_spatial(case))
        total[:, filters] += part  # U_m * F_m^(n)
    return deviation(y, total)


def eq2_to_7(case):
    x, w_pw, w_dw, b = case.operands
    y, _ = reference.bsconv_u_forward(*case.operands, **case.geometry)
    full, _ = reference.conv2d_forward(x, reference.bsconv_u_kernel(w_pw, w_dw), b, **case.geometry)
    loops, _ = naive.bsconv_u_forward(*case.operands, **case.geometry)
    return max(deviation(y, full), deviation(y, loops))


def eq8_to_14(case):
    x, w_b, w_a, w_dw, b = case.operands
    y, _ = reference.bsconv_s_forward(*case.operands, **case.geometry)
    w = (w_a[:, :, 0, 0] @ w_b[:, :, 0, 0])[:, :, None, None]  # Eq. (8): N,M,1,1
    as_u, _ = reference.bsconv_u_forward(x, w, w_dw, b, **case.geometry)
    full, _ = reference.conv2d_forward(x, reference.bsconv_s_kernel(w_b, w_a, w_dw), b, **case.geometry)
    loops, _ = naive.bsconv_s_forward(*case.operands, **case.geometry)
    return max(deviation(y, as_u), deviation(y, full), deviation(y, loops))


def sec4_1(case):
    x, w_dw, w_pw, b = case.operands
    y, _ = reference.dsc_forward(*case.operands, **case.geometry)
    full, _ = reference.conv2d_forward(x, reference.dsc_kernel(w_dw, w_pw), b, **case.geometry)
    loops, _ = naive.dsc_forward(*case.operands, **case.geometry)
    return max(deviation(y, full), deviation(y, loops))


def eq9(case):
    (w_b,) = case.operands
    loss, loops = reference.orthonormal_loss(w_b), naive.orthonormal_loss(w_b)
    loss_error = abs(loss - loops) / max(1.0, abs(loops))
    return max(loss_error, deviation(reference.orthonormal_loss_backward(w_b), naive.orthonormal_loss_backward(w_b)))


def central_differences(loss, array, entries) -> np.ndarray:
    """(loss(a + h e_i) - loss(a - h e_i)) / 2h at the given flat entries i of ``array`` (restored after)."""
    flat = array.reshape(-1)
    out = np.zeros(len(entries))
    for k, i in enumerate(entries):
        saved = flat[i]
        flat[i] = saved + STEP
        up = loss()
        flat[i] = saved - STEP
        down = loss()
        flat[i] = saved
        out[k] = (up - down) / (2 * STEP)
    return out


def eq9_differences(case):
    (w_b,) = case.operands
    w_b = w_b.copy()
    grad = reference.orthonormal_loss_backward(w_b)
    numeric = central_differences(lambda: reference.orthonormal_loss(w_b), w_b, range(w_b.size))
    return deviation(grad.reshape(-1), numeric)


def backward_differences(op: str, samples: int = 6):
    """The error of ``op``'s backward against central differences of the fake loss <y, dy>."""

    def measure(case):
        values = case.values()
        arrays = [None if a is None else a.copy() for a in case.operands]
        forward, backward = getattr(reference, f"{op}_forward"), getattr(reference, f"{op}_backward")
        y, cache = forward(*arrays, **case.geometry)
        dy = values.standard_normal(y.shape)
        grads = backward(dy, cache)
        if len(grads) != len(arrays):
            return float("inf")
        error = 0.0
        for array, grad in zip(arrays, grads):
            if array is None or grad is None:
                error = max(error, deviation(grad, array))  # both None (no bias), else a gradient is missing
                continue
            entries = values.choice(array.size, size=min(samples, array.size), replace=False)
            numeric = central_differences(
                lambda: float(np.sum(forward(*arrays, **case.geometry)[0] * dy)), array, entries
            )
            error = max(error, deviation(grad.reshape(-1)[entries], numeric))
        return error

    return measure


def results(module, op: str, case: Case, dy) -> tuple:
    """``(y, gradients)`` of ``op`` from a module with the reference contract (reference, naive, accel)."""
    y, cache = _forward(module, op, case)
    return y, tuple(getattr(module, f"{op}_backward")(dy, cache))


def agreement(op: str, backend: str, run: Callable, where: str) -> Equation:
    """Forward and every gradient of ``op`` from ``run(op, case, dy) -> (y, gradients)`` against the reference."""

    def measure(case):
        y_ref, cache = _forward(reference, op, case)
        dy = case.values().standard_normal(y_ref.shape).astype(case.dtype)
        grads_ref = getattr(reference, f"{op}_backward")(dy, cache)
        y, grads = run(op, case, dy)
        return max(deviation(y, y_ref), *(deviation(g, r) for g, r in zip_longest(grads, grads_ref)))

    return Equation(
        f"{op}-{backend}",
        LABELS[op],
        f"{where}: forward and `{GRADIENTS[op]}` equal the reference's",
        ("reference", backend),
        lambda rng: draw_operands(rng, op),
        measure,
        stream=f"{op}-agreement",
    )


def _naive(op, case, dy):
    return results(naive, op, case, dy)


def pc1_is_one(case):
    """Blueprint-structured slices, F_m = w_m B, minus their mean are rank 1: PC1 explains everything."""
    f = reference.bsconv_u_kernel(*case.operands)
    return max(
        deviation(reference.pc1_explained_variance(f), np.ones(f.shape[0], f.dtype)),
        deviation(naive.pc1_explained_variance(f), np.ones(f.shape[0], f.dtype)),
    )


def rank1_is_exact(case):
    f = reference.bsconv_u_kernel(*case.operands)
    error = 0.0
    for module in (reference, naive):
        w_pw, w_dw, rel_err = module.blueprint_factorize(f)
        error = max(
            error, deviation(rel_err, np.zeros_like(rel_err)), deviation(reference.bsconv_u_kernel(w_pw, w_dw), f)
        )
    return error


def _operands(op):
    return lambda rng: draw_operands(rng, op)


def _float64_operands(op):
    return lambda rng: draw_operands(rng, op, dtypes=(np.float64,))


OPS = ("conv2d", "dsc", "bsconv_u", "bsconv_s")
NUMPY = ("reference", "naive")

EQUATIONS = (
    Equation(
        "eq3",
        "Eq. (3)",
        "`U * F^(n) = sum_m U_m * F_m^(n)`: a (grouped) convolution is a sum of 2-D ones",
        NUMPY,
        _operands("conv2d"),
        eq3,
    ),
    Equation(
        "eq2-7",
        "Eq. (2), (4)-(7)",
        "`U * F` with `F_m^(n) = w_{n,m} B^(n)` = (pointwise `W`, then depthwise `B^(n)`) = the sum of Eq. (4)",
        NUMPY,
        _operands("bsconv_u"),
        eq2_to_7,
    ),
    Equation(
        "eq8-14",
        "Eq. (8), (10)-(14)",
        "(pointwise `W^B`, `W^A`, then depthwise `B^(n)`) = BSConv-U with `W = W^A W^B` = `U * F` = the sum of Eq. (10)-(11)",
        NUMPY,
        _operands("bsconv_s"),
        eq8_to_14,
    ),
    Equation(
        "sec4.1",
        "Sec. 4.1",
        "`U * F` with `F_m^(n) = w_{n,m} B'_m` = (depthwise `B'`, then pointwise `W`) = the sum, term by term",
        NUMPY,
        _operands("dsc"),
        sec4_1,
    ),
    Equation(
        "eq9",
        "Eq. (9)",
        "`L = ||W^B W^B^T - I||_F` and `dL/dW^B = 2 (W W^T - I) W / L` (0 at `L = 0`) equal the loops",
        NUMPY,
        draw_w_b,
        eq9,
    ),
    Equation(
        "eq9-fd",
        "Eq. (9)",
        "`dL/dW^B` = central differences of `L`",
        ("reference",),
        lambda rng: draw_w_b(rng, (np.float64,), orthonormal_rows=False),
        eq9_differences,
        by_difference,
    ),
    *(agreement(op, "naive", _naive, "the naive loops") for op in OPS),
    *(
        Equation(
            f"{op}-fd",
            LABELS[op],
            f"backward: `{GRADIENTS[op]}` = central differences of `<y, dy>`",
            ("reference",),
            _float64_operands(op),
            backward_differences(op),
            by_difference,
        )
        for op in OPS
    ),
    Equation(
        "pc1",
        "Sec. 3.1, Fig. 3",
        "PC1 explains all the variance (= 1) of blueprint-structured kernels",
        NUMPY,
        draw_blueprint_kernel,
        pc1_is_one,
    ),
    Equation(
        "rank1",
        "Sec. 3.1, Eq. (2)",
        "blueprint_factorize of `F = w B` is exact: rank-1 error 0, and `w B` rebuilds `F`",
        NUMPY,
        draw_blueprint_kernel,
        rank1_is_exact,
    ),
)
