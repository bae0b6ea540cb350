"""The lessons' exercises, each with a checker that says whether an answer is right, and why not.

A lesson ends with exercises; the reader writes a function or a number in the notebook and calls
``check("2.1", answer)``, which returns a ``Verdict`` (shown as one line: right, or not yet and the reason).
A checker compares the answer with ``reference`` (the NumPy specification) on fresh random cases drawn by
``reference.cases``, with the tolerances of ``reference.equations``, or with a count from
``blueprint.profile``; an answer that raises is reported, not propagated. The solutions are in the lessons,
folded away; ``tests/test_tutorials.py`` runs each through its checker, and a wrong answer too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

import reference
from reference.cases import deviation, draw_operands
from reference.equations import DIFFERENCE_TOLERANCE, TOLERANCE, central_differences

FLOAT64 = (np.float64,)
RIGHT = TOLERANCE[np.dtype(np.float64)]
CASES = 5


@dataclass(frozen=True)
class Verdict:
    """The checker's answer: ``right`` or not, and the ``reason``."""

    exercise: str
    right: bool
    reason: str

    def __repr__(self) -> str:
        return f"exercise {self.exercise}: {'right' if self.right else 'not yet'}: {self.reason}"


@dataclass(frozen=True)
class Exercise:
    """One exercise: its key (lesson.number), the name the lesson gives the answer, and its checker.

    ``judge(answer)`` returns ``None`` when the answer is right, else the reason it is not.
    """

    key: str
    answer: str
    judge: Callable
    right_because: str


EXERCISES: dict[str, Exercise] = {}


def exercise(key: str, answer: str, right_because: str):
    """Register the decorated ``judge`` as the checker of exercise ``key``."""

    def register(judge):
        EXERCISES[key] = Exercise(key, answer, judge, right_because)
        return judge

    return register


def check(key: str, answer) -> Verdict:
    """Exercise ``key``'s verdict on ``answer`` (a function or a number, as the exercise asks)."""
    if key not in EXERCISES:
        raise ValueError(f"key: expected one of {sorted(EXERCISES)}, got {key!r}")
    name = EXERCISES[key].answer
    if answer is None or answer is Ellipsis:
        return Verdict(key, False, f"no answer yet: give `{name}` a value and run this cell again")
    try:
        reason = EXERCISES[key].judge(_answered(answer, name) if callable(answer) else answer)
    except NoAnswer:
        return Verdict(
            key,
            False,
            f"no answer yet: `{name}` returns None; write its body and run this cell again",
        )
    except Exception as error:  # the reader's code failed: say how, as a notebook would
        reason = f"your answer raised {type(error).__name__}: {error}"
    return Verdict(key, reason is None, EXERCISES[key].right_because if reason is None else reason)


class NoAnswer(Exception):
    """A reader's function returned None: the stub the lesson gives, not yet written."""


def _answered(function, name: str):
    """``function``, raising ``NoAnswer`` where it returns None."""

    def answered(*args, **kwargs):
        result = function(*args, **kwargs)
        if result is None:
            raise NoAnswer(name)
        return result

    return answered


def arrays_differ(got, want, what: str) -> str | None:
    """Why ``got`` is not ``want`` (shape, or the largest relative deviation), or None if they agree."""
    got = np.asarray(got) if got is not None else None
    if got is None or got.shape != want.shape:
        return f"{what} should have shape {want.shape}, yours has {None if got is None else got.shape}"
    error = deviation(got, want)
    if error > RIGHT:
        return f"{what} is off by {error:.1e} (relative to its largest entry; allowed {RIGHT:.0e})"
    return None


def number_differs(got, want: float, what: str, rel: float = 1e-3, hints: dict | None = None) -> str | None:
    """Why the number ``got`` is not ``want`` (within ``rel``), with a hint for a known wrong value."""
    got = float(got)
    if math.isclose(got, want, rel_tol=rel):
        return None
    for wrong, hint in (hints or {}).items():
        if math.isclose(got, wrong, rel_tol=rel):
            return f"{got:g} is {hint}"
    return f"{got:g} is not {what}"


def cases(op: str, count: int = CASES):
    """``count`` random float64 cases of ``op`` (``reference.cases``), the same ones on every call."""
    rng = np.random.default_rng(2020)
    return [draw_operands(rng, op, dtypes=FLOAT64) for _ in range(count)]


def filters(count: int = CASES):
    """Random filters (M, K, K): some arbitrary, some of the form of Eq. (2)."""
    rng = np.random.default_rng(7)
    out = []
    for i in range(count):
        m, k = int(rng.integers(2, 9)), int(rng.choice([3, 5]))
        f = rng.standard_normal((m, k, k))
        out.append(f if i % 2 else rng.standard_normal((m, 1, 1)) * f[:1])
    return out


# Lesson 1 ------------------------------------------------------------------------------------------------


@exercise(
    "1.1",
    "pc1_share",
    "your share equals reference.pc1_explained_variance on every filter tried",
)
def _pc1_share(pc1_share):
    for f in filters():
        want = float(reference.pc1_explained_variance(f[None])[0])
        got = float(pc1_share(f))
        if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
            uncentered = 1 - float(reference.blueprint_factorize(f[None])[2][0]) ** 2
            hint = (
                " (that is the uncentered share sigma_1^2 / sum sigma_i^2 of S: subtract the mean slice first)"
                if math.isclose(got, uncentered, rel_tol=1e-6)
                else ""
            )
            return f"for a filter of {f.shape[0]} slices you gave {got:.6f}, PC1 explains {want:.6f}{hint}"
    return None


@exercise(
    "1.2",
    "centered_not_eq2",
    "PC1 explains 100% of its slices' variance, yet the best Eq. (2) fit leaves a large error",
)
def _centered_not_eq2(kernel):
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 3 or kernel.shape[0] < 2:
        return f"give one filter of shape (M, K, K) with M >= 2, yours has shape {kernel.shape}"
    share = float(reference.pc1_explained_variance(kernel[None])[0])
    error = float(reference.blueprint_factorize(kernel[None])[2][0])
    if share < 1 - 1e-9:
        return f"PC1 explains {100 * share:.4f}% of its slices' variance, not 100%"
    if error < 0.1:
        return (
            f"blueprint_factorize fits it with a relative error of {100 * error:.2g}%: it is (nearly) of the "
            f"form of Eq. (2); add a mean slice perpendicular to the direction the slices vary along"
        )
    return None


@exercise(
    "1.3",
    "uncentered_share",
    "your share is 1 - rel_err^2 of reference.blueprint_factorize on every filter",
)
def _uncentered_share(uncentered_share):
    for f in filters():
        want = 1 - float(reference.blueprint_factorize(f[None])[2][0]) ** 2
        got = float(uncentered_share(f))
        if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
            centered = float(reference.pc1_explained_variance(f[None])[0])
            hint = " (that is PCA's centered share: Eq. (2) has no mean slice)" if math.isclose(got, centered) else ""
            return f"for a filter of {f.shape[0]} slices you gave {got:.6f}, the uncentered share is {want:.6f}{hint}"
    return None


# Lesson 2 ------------------------------------------------------------------------------------------------


@exercise(
    "2.1",
    "bsconv_u_kernel",
    "your kernel equals reference.bsconv_u_kernel, F_m^(n) = w_{n,m} B^(n) (Eq. 2)",
)
def _bsconv_u_kernel(bsconv_u_kernel):
    for case in cases("bsconv_u"):
        w_pw, w_dw = case.arrays["w_pw"], case.arrays["w_dw"]
        reason = arrays_differ(
            bsconv_u_kernel(w_pw, w_dw),
            reference.bsconv_u_kernel(w_pw, w_dw),
            f"the kernel of w_pw {w_pw.shape} and w_dw {w_dw.shape}",
        )
        if reason:
            return reason
    return None


def profiled_macs(layer, m: int, size: int) -> int:
    """Multiply-adds of ``layer`` on one (m, size, size) input, counted by ``blueprint.profile``."""
    import blueprint

    return blueprint.profile(layer, (m, size, size)).flops


@exercise(
    "2.2",
    "stride2_ratio",
    "at stride 2 the pointwise step runs at the input's resolution: 45.2% of the regular multiply-adds",
)
def _stride2_ratio(ratio):
    import torch.nn as nn

    import blueprint

    regular = profiled_macs(nn.Conv2d(128, 128, 3, stride=2, padding=1, bias=False), 128, 32)
    bsconv = profiled_macs(blueprint.BSConvU(128, 128, 3, stride=2, padding=1, bias=False), 128, 32)
    return number_differs(
        ratio,
        bsconv / regular,
        "the ratio blueprint.profile counts",
        rel=5e-3,
        hints={
            1 / 9 + 1 / 128: "the stride-1 ratio 1/K^2 + 1/M, which holds for the parameters: "
            "which step runs on the 32x32 input, and which on the 16x16 output?"
        },
    )


@exercise(
    "2.3",
    "bsconv_u_macs",
    "your count equals blueprint.profile's for every geometry tried (stride 1 and 2, several sizes)",
)
def _bsconv_u_macs(bsconv_u_macs):
    import blueprint

    for m, n, k, size, stride in [
        (8, 16, 3, 12, 1),
        (16, 8, 3, 12, 2),
        (4, 4, 5, 9, 2),
        (32, 64, 3, 7, 1),
    ]:
        want = profiled_macs(
            blueprint.BSConvU(m, n, k, stride=stride, padding=k // 2, bias=False),
            m,
            size,
        )
        got = bsconv_u_macs(m, n, k, size, stride)
        if got != want:
            return f"M={m}, N={n}, K={k}, {size}x{size} input, stride {stride}: you count {got}, profile {want}"
    return None


# Lesson 3 ------------------------------------------------------------------------------------------------


@exercise(
    "3.1",
    "ortho_grad",
    "your gradient equals reference.orthonormal_loss_backward and central differences",
)
def _ortho_grad(ortho_grad):
    rng = np.random.default_rng(9)
    for m_sub, m in [(2, 5), (3, 3), (4, 9)]:
        w = rng.standard_normal((m_sub, m)) / np.sqrt(m)
        got = np.asarray(ortho_grad(w.copy()))
        reason = arrays_differ(got, reference.orthonormal_loss_backward(w), f"dL/dW^B for W^B {w.shape}")
        if reason:
            return reason
        numeric = central_differences(lambda: reference.orthonormal_loss(w), w, range(w.size))
        if deviation(got.reshape(-1), numeric) > DIFFERENCE_TOLERANCE:
            return "your gradient disagrees with central differences of Eq. (9)"
    return None


@exercise("3.2", "m_sub_eq8", "Eq. (8): M' = ceil(p M) = ceil(16 / 6) = 3")
def _m_sub_eq8(m_sub):
    return number_differs(
        m_sub,
        math.ceil(16 / 6),
        "ceil(p M)",
        hints={
            4: "what blueprint.subspace_channels returns (it keeps at least 4 channels), not Eq. (8)",
            16 / 6: "p M before rounding up",
        },
    )


@exercise(
    "3.3",
    "orthonormal_refactor",
    "W^A W^B = W and W^B has orthonormal rows (L_ortho = 0): the same layer, Eq. (9) at its minimum",
)
def _orthonormal_refactor(refactor):
    rng = np.random.default_rng(11)
    for n, m, m_sub in [(6, 5, 2), (8, 8, 3), (4, 10, 4)]:
        w = rng.standard_normal((n, m_sub)) @ rng.standard_normal((m_sub, m))  # N,M of rank M'
        w_a, w_b = (np.asarray(a) for a in refactor(w.copy(), m_sub))
        if w_a.shape != (n, m_sub) or w_b.shape != (m_sub, m):
            return (
                f"for W {w.shape} and M'={m_sub}: W^A should be {(n, m_sub)}, W^B {(m_sub, m)}; yours are "
                f"{w_a.shape}, {w_b.shape}"
            )
        reason = arrays_differ(w_a @ w_b, w, "W^A W^B")
        if reason:
            return reason
        if reference.orthonormal_loss(w_b) > 1e-9:
            return f"W^B's rows are not orthonormal: L_ortho = {reference.orthonormal_loss(w_b):.2e}"
    return None


# Lesson 4 ------------------------------------------------------------------------------------------------


@exercise(
    "4.1",
    "dsc_kernel",
    "your kernel equals reference.dsc_kernel, F_m^(n) = w_{n,m} B'_m (Sec. 4.1)",
)
def _dsc_kernel(dsc_kernel):
    for case in cases("dsc"):
        w_dw, w_pw = case.arrays["w_dw"], case.arrays["w_pw"]
        reason = arrays_differ(
            dsc_kernel(w_dw, w_pw),
            reference.dsc_kernel(w_dw, w_pw),
            f"the kernel of w_dw {w_dw.shape} and w_pw {w_pw.shape}",
        )
        if reason:
            return reason
    return None


@exercise(
    "4.2",
    "cross_kernel_error",
    "your error equals that of the best DSC kernel: the rank-1 fit of each column of the slice grid",
)
def _cross_kernel_error(cross_kernel_error):
    rng = np.random.default_rng(4)
    for n, m in [(7, 5), (4, 9)]:
        kernel = rng.standard_normal((n, m, 3, 3))
        _, _, per_column = reference.blueprint_factorize(kernel.transpose(1, 0, 2, 3))  # M: one fit per column
        norms = np.sum(kernel**2, axis=(0, 2, 3))  # M: ||column m||^2
        want = float(np.sqrt(np.sum(per_column**2 * norms) / np.sum(norms)))
        intra = float(
            np.sqrt(
                np.sum(reference.blueprint_factorize(kernel)[2] ** 2 * np.sum(kernel**2, (1, 2, 3))) / np.sum(kernel**2)
            )
        )
        reason = number_differs(
            cross_kernel_error(kernel),
            want,
            f"the DSC fit's error for an {n}x{m} grid",
            rel=1e-6,
            hints={intra: "the BSConv-U (intra-kernel) fit's error: fit the columns"},
        )
        if reason:
            return reason
    return None


@exercise("4.3", "extra_params", "N K^2 + N M - (M K^2 + N M) = (N - M) K^2 = 32 * 9 = 288")
def _extra_params(extra):
    return number_differs(
        extra,
        (64 - 32) * 9,
        "(BSConv-U's parameters) - (the DSC's)",
        rel=0,
        hints={0: "what you get if both had the same budget: compare N K^2 with M K^2"},
    )


# Lesson 5 ------------------------------------------------------------------------------------------------


@exercise(
    "5.1",
    "pointwise_grads",
    "dX = W^T G and dW = sum over batch and pixels of G X^T, as the reference",
)
def _pointwise_grads(pointwise_grads):
    rng = np.random.default_rng(5)
    for b, m, n, h in [(2, 3, 4, 5), (3, 5, 2, 4)]:
        x, w = rng.standard_normal((b, m, h, h)), rng.standard_normal((n, m, 1, 1))
        y, cache = reference.conv2d_forward(x, w)
        g = rng.standard_normal(y.shape)
        dx, dw, _ = reference.conv2d_backward(g, cache)
        got_dx, got_dw = pointwise_grads(g, x, w)
        reason = arrays_differ(got_dx, dx, "dX") or arrays_differ(got_dw, dw, "dW")
        if reason:
            return reason
    return None


@exercise(
    "5.2",
    "bsconv_s_grads",
    "dX, dW^B, dW^A, dB and the bias gradient equal reference.bsconv_s_backward",
)
def _bsconv_s_grads(bsconv_s_grads):
    for case in cases("bsconv_s"):
        y, cache = reference.bsconv_s_forward(*case.operands, **case.geometry)
        g = case.values().standard_normal(y.shape)
        want = reference.bsconv_s_backward(g, cache)
        got = bsconv_s_grads(g, *case.operands, **case.geometry)
        if len(got) != len(want):
            return f"return {len(want)} gradients (dx, dw_b, dw_a, dw_dw, db), you returned {len(got)}"
        for name, mine, theirs in zip(("dx", "dw_b", "dw_a", "dw_dw", "db"), got, want):
            if theirs is None:
                if mine is not None:
                    return f"{name} should be None when there is no bias"
                continue
            reason = arrays_differ(mine, theirs, f"{name} ({case.describe()})")
            if reason:
                return reason
    return None


@exercise(
    "5.3",
    "best_step",
    "truncation ~ eps^2 and rounding ~ 1e-16 / eps balance near eps = 1e-16^(1/3), about 5e-6",
)
def _best_step(step):
    step = float(step)
    if 1e-6 <= step <= 3e-5:
        return None
    if step < 1e-6:
        return f"at eps = {step:g} rounding, about 1e-16 |L| / eps, dominates: take a larger step"
    return f"at eps = {step:g} the truncation error, which grows like eps^2 for Eq. (9), dominates: take a smaller step"


# Lesson 6 ------------------------------------------------------------------------------------------------


@exercise(
    "6.1",
    "depthwise_loops",
    "your loops equal reference.conv2d_forward with groups = channels",
)
def _depthwise_loops(depthwise_loops):
    rng = np.random.default_rng(6)
    for b, c, h, k in [(1, 2, 5, 3), (2, 3, 6, 3)]:
        x, w = rng.standard_normal((b, c, h, h)), rng.standard_normal((c, 1, k, k))
        want, _ = reference.conv2d_forward(x, w, groups=c)
        reason = arrays_differ(
            depthwise_loops(x, w),
            want,
            f"the depthwise output of x {x.shape}, w {w.shape}",
        )
        if reason:
            return reason
    return None


@exercise(
    "6.2",
    "flop_per_byte",
    "18 FLOP (9 multiply-adds) per 8 bytes (one float32 in, one out): 2.25",
)
def _flop_per_byte(value):
    return number_differs(
        value,
        18 / 8,
        "FLOP per byte of a 3x3 depthwise step",
        rel=1e-2,
        hints={
            9 / 8: "multiply-adds per byte: a multiply-add is 2 FLOP",
            18 / 40: "counting the 9 taps as 9 reads from memory: each input is read once and reused from cache",
        },
    )


@exercise(
    "6.3",
    "pointwise_share",
    "N M : N K^2, i.e. M / K^2 = 128 / 9 = 14.2 times the depthwise step's work",
)
def _pointwise_share(value):
    return number_differs(
        value,
        128 / 9,
        "the pointwise step's multiply-adds over the depthwise step's",
        rel=1e-2,
        hints={1.0: "what it would be if both steps did the same work per pixel"},
    )


# Lesson 7 ------------------------------------------------------------------------------------------------


@exercise(
    "7.1",
    "bsconv_s_params",
    "M' = ceil(64 / 4) = 16: 16 * 64 + 64 * 16 + 64 * 9 = 2,624 (blueprint.profile)",
)
def _bsconv_s_params(value):
    import blueprint

    want = blueprint.profile(blueprint.BSConvS(64, 64, 3, padding=1, p=0.25, bias=False), (64, 8, 8)).params
    return number_differs(
        value,
        want,
        "the parameters blueprint.profile counts",
        rel=0,
        hints={64 * 64 + 64 * 9: "BSConv-U's count: W = W^A W^B has N M' + M' M entries"},
    )


@exercise("7.2", "images_apart", "(0.987 - 0.969) * 450 = 8.1: 8 test images")
def _images_apart(value):
    return number_differs(
        value,
        8,
        "the number of test images",
        rel=0,
        hints={1.8: "the gap in percentage points, not in images"},
    )


@exercise(
    "7.3",
    "mobilenetv2_p",
    "p = 1/6: W^B (M/6 x M) and W^A (M x M/6) hold as many weights as MobileNetV2's projection and expansion",
)
def _mobilenetv2_p(value):
    return number_differs(
        value,
        1 / 6,
        "the p of Sec. 4.2",
        rel=1e-2,
        hints={
            6.0: "the expansion factor t; p is its inverse",
            0.25: "this lesson's p",
        },
    )
