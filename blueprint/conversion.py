"""Drop-in conversion of a CNN's regular convolutions to BSConv-U or BSConv-S, optionally from trained weights.

``convert(model, to="bsconv_u")`` replaces every ``nn.Conv2d`` with groups=1 and a listed kernel size by a
BSConv layer with the same geometry (stride, padding, dilation, padding_mode, bias, device, dtype). Every
other module (1x1 and grouped convolutions, BSConv/DSC layers already there, subclasses of ``nn.Conv2d``
whose forward may differ) is left alone. ``reverse_dsc=True`` also reverses each depthwise separable
convolution into BSConv-U (Sec. 4.1): every module with a ``to_bsconv_u()`` method (``DSConv``, the zoo's
MobileNetV1 unit) is replaced by what that method returns.

The model zoo makes its BSConv-U and BSConv-S variants with this function, from baselines it has built and
initialized (``blueprint.models.variants``), as the paper's official implementation does with its replacers.

``init="svd"`` starts from the trained kernel W (N, M, K, K) instead of a fresh initialization:

- BSConv-U: per filter, the best rank-1 fit `F_m^(n) ~= w_{n,m} B^(n)` (Eq. 2, ``reference.blueprint_factorize``),
  exact when the kernel is blueprint-structured.
- BSConv-S: that fit, then a truncated SVD of the weight matrix `W = U S V^T` (Eq. 8): `W^B` = the first M' rows
  of `V^T` (orthonormal rows, so Eq. 9's loss starts at 0) and `W^A = U S` on those M' components.

Each replaced layer's relative error ||W - W_hat||_F / ||W||_F is written to ``model.conversion_report`` (a
``ConversionReport``) and logged at INFO level to the ``blueprint.convert`` logger. A model with nothing to
convert is left as it is, with a ``UserWarning`` saying what its convolutions are instead.
"""

from __future__ import annotations

import fnmatch
import logging
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn as nn

import reference
from blueprint.layers import BSConvS, BSConvU, DSConv, subspace_channels
from blueprint.tables import format_table

log = logging.getLogger("blueprint.convert")

TARGETS = ("bsconv_u", "bsconv_s")
INITS = ("default", "svd")


@dataclass
class ConvertedLayer:
    """One replaced convolution. ``rel_error`` is ||W - W_hat||_F / ||W||_F (``init="svd"`` only, else None)."""

    name: str
    kernel_size: tuple[int, int]
    in_channels: int
    out_channels: int
    params_before: int
    params_after: int
    rel_error: float | None


@dataclass
class ConversionReport:
    """What ``convert`` did: the target layer type, the initialization and one entry per replaced layer."""

    to: str
    init: str
    layers: list[ConvertedLayer] = field(default_factory=list)

    @property
    def grown(self) -> list[ConvertedLayer]:
        """The layers that have more parameters after the conversion: with few input channels (an RGB or
        grey-scale stem) `N K^2 + N M` exceeds the regular `N M K^2`."""
        return [layer for layer in self.layers if layer.params_after > layer.params_before]

    def growth_note(self) -> str | None:
        """One line naming the grown layers (``grown``), or None."""
        if not self.grown:
            return None
        named = ", ".join(f"{g.name or '<model>'} ({g.params_before:,} -> {g.params_after:,})" for g in self.grown)
        return (
            f"{len(self.grown)} layer(s) have more parameters as BSConv than before: {named}; with few input "
            f"channels a regular convolution is the smaller one (leave it with `exclude`)"
        )

    @property
    def max_rel_error(self) -> float | None:
        errors = [layer.rel_error for layer in self.layers if layer.rel_error is not None]
        return max(errors) if errors else None

    def table(self) -> str:
        header = ("layer", "kernel", "M -> N", "params before", "params after", "rel. error")
        rows = [
            (
                layer.name or "<model>",
                "x".join(map(str, layer.kernel_size)),
                f"{layer.in_channels} -> {layer.out_channels}",
                f"{layer.params_before:,}",
                f"{layer.params_after:,}",
                "-" if layer.rel_error is None else f"{layer.rel_error:.2e}",
            )
            for layer in self.layers
        ]
        title = f"convert to {self.to}, init={self.init}: {len(self.layers)} layers"
        note = self.growth_note()
        return title + "\n" + format_table(header, rows, align="<<<>>>") + (f"\nnote: {note}" if note else "")


def _is_size(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1


def _kernel_sizes(kernel_sizes) -> set[tuple[int, int]]:
    """``(3, 5)`` -> {(3, 3), (5, 5)}; items may be ints (square kernels) or (KH, KW) pairs."""
    items = [kernel_sizes] if _is_size(kernel_sizes) else kernel_sizes
    expected = "kernel_sizes: expected positive ints or (KH, KW) pairs"
    if not isinstance(items, (tuple, list, set, frozenset)):
        raise ValueError(f"{expected}, got {kernel_sizes!r}")
    sizes = set()
    for k in items:
        pair = (k, k) if _is_size(k) else tuple(k) if isinstance(k, (tuple, list)) else ()
        if len(pair) != 2 or not all(map(_is_size, pair)):
            raise ValueError(f"{expected}, got {kernel_sizes!r}")
        sizes.add((int(pair[0]), int(pair[1])))
    if not sizes:
        raise ValueError("kernel_sizes: expected at least one kernel size, got an empty collection")
    return sizes


def _exclusion(model: nn.Module, exclude) -> Callable[[str, nn.Module], bool]:
    """``exclude`` as a predicate on (qualified name, conv).

    None excludes nothing; a callable is used as is; a name or a list of names / shell patterns excludes
    every convolution whose qualified name or any ancestor's name matches (``"stem"``, ``"layer1.*"``).
    """
    if exclude is None:
        return lambda name, conv: False
    if callable(exclude):
        return exclude
    patterns = [exclude] if isinstance(exclude, str) else list(exclude) if isinstance(exclude, Iterable) else None
    if patterns is None or not all(isinstance(p, str) for p in patterns):
        raise TypeError(
            f"exclude: expected None, a module name or pattern, a list of them, or a callable(name, module), "
            f"got {exclude!r}"
        )
    names = [n for n, _ in model.named_modules() if n]
    for p in patterns:
        if not any(fnmatch.fnmatchcase(n, p) for n in names):
            raise ValueError(f"exclude: {p!r} matches no module name of the model (e.g. {names[:3]})")

    def excluded(name, conv):
        parts = name.split(".")
        ancestors = [".".join(parts[: i + 1]) for i in range(len(parts))]
        return any(fnmatch.fnmatchcase(a, p) for a in ancestors for p in patterns)

    return excluded


def _targets(module: nn.Module, prefix: str, kernel_sizes, reverse_dsc: bool):
    """Yield ``(parent, child name, qualified name, module)`` for each convertible conv (and, with
    ``reverse_dsc``, each DSC), not inside BSConv/DSC layers."""
    for child_name, child in module.named_children():
        name = f"{prefix}{child_name}"
        if _convertible(child, kernel_sizes, reverse_dsc):
            yield module, child_name, name, child
        elif not isinstance(child, (BSConvU, BSConvS, DSConv)):
            yield from _targets(child, f"{name}.", kernel_sizes, reverse_dsc)


def _is_dsc(module: nn.Module) -> bool:
    return callable(getattr(module, "to_bsconv_u", None))


def _convertible(module: nn.Module, kernel_sizes, reverse_dsc: bool) -> bool:
    if reverse_dsc and _is_dsc(module):
        return True
    return type(module) is nn.Conv2d and module.groups == 1 and tuple(module.kernel_size) in kernel_sizes


def _reversed_dsc(dsc: nn.Module) -> tuple[nn.Module, tuple[int, int, tuple[int, int]]]:
    """``dsc.to_bsconv_u()`` on the DSC's device, dtype and mode, and the (M, N, kernel size) of its BSConv-U."""
    layer = dsc.to_bsconv_u()
    first = next(dsc.parameters(), None)
    if first is not None:
        layer = layer.to(device=first.device, dtype=first.dtype)
    bsconv = next((m for m in layer.modules() if isinstance(m, BSConvU)), None)
    if bsconv is None:
        raise TypeError(f"to_bsconv_u: expected a module holding a BSConvU, got {type(layer).__name__}")
    return layer.train(dsc.training), (bsconv.pw.in_channels, bsconv.dw.out_channels, tuple(bsconv.dw.kernel_size))


def _bsconv_like(conv: nn.Conv2d, to: str, p: float, with_bn: bool) -> nn.Sequential:
    geometry = dict(
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
        with_bn=with_bn,
    )
    if to == "bsconv_u":
        layer = BSConvU(conv.in_channels, conv.out_channels, conv.kernel_size, **geometry)
    else:
        layer = BSConvS(conv.in_channels, conv.out_channels, conv.kernel_size, p=p, **geometry)
    return layer.to(device=conv.weight.device, dtype=conv.weight.dtype).train(conv.training)


def subspace_factorize(w_pw: np.ndarray, m_sub: int) -> tuple[np.ndarray, np.ndarray]:
    """Eq. (8) by truncated SVD: `W` (N, M, 1, 1) `~= W^A W^B` with `W^B` (M', M, 1, 1) having orthonormal rows.

    `W = U S V^T`; `W^B` = first M' rows of `V^T` (all M' orthonormal even where `rank(W) < M'`), `W^A = U S` on the
    leading min(N, M, M') components and 0 beyond. Exact when rank(W) <= M' (Eckart-Young otherwise).
    Returns ``(w_b, w_a)`` with w_a (N, M', 1, 1).
    """
    w = w_pw[:, :, 0, 0]  # N,M
    u, s, vt = np.linalg.svd(w, full_matrices=True)  # N,N  r  M,M
    rank = min(len(s), m_sub)
    w_b = vt[:m_sub]  # M',M
    w_a = np.zeros((w.shape[0], m_sub), dtype=w.dtype)  # N,M'
    w_a[:, :rank] = u[:, :rank] * s[:rank]
    return w_b[:, :, None, None], w_a[:, :, None, None]


def _svd_init(layer: nn.Sequential, conv: nn.Conv2d) -> float:
    """Set ``layer``'s weights from ``conv``'s kernel; returns the relative error of the kernel it now computes."""
    w = conv.weight.detach().cpu().double().numpy()  # N,M,KH,KW
    w_pw, w_dw, _ = reference.blueprint_factorize(w)  # N,M,1,1  N,1,KH,KW
    if isinstance(layer, BSConvU):
        weights = {layer.pw: w_pw, layer.dw: w_dw}
        w_hat = reference.bsconv_u_kernel(w_pw, w_dw)
    else:
        w_b, w_a = subspace_factorize(w_pw, layer.pw1.out_channels)
        weights = {layer.pw1: w_b, layer.pw2: w_a, layer.dw: w_dw}
        w_hat = reference.bsconv_s_kernel(w_b, w_a, w_dw)
    with torch.no_grad():
        for module, value in weights.items():
            module.weight.copy_(torch.from_numpy(value))
        if conv.bias is not None:
            layer.dw.bias.copy_(conv.bias)
    norm = np.linalg.norm(w)
    return float(np.linalg.norm(w - w_hat) / norm) if norm > 0 else 0.0


def convert(
    model: nn.Module,
    to: str = "bsconv_u",
    kernel_sizes=(3, 5),
    p: float = 0.25,
    with_bn: bool = False,
    init: str = "default",
    exclude=None,
    reverse_dsc: bool = False,
) -> nn.Module:
    """Replace the regular convolutions of ``model`` by BSConv layers, in place; returns the model.

    Args:
        model: any ``nn.Module``; if it is itself a convertible ``nn.Conv2d`` (or, with ``reverse_dsc``, a DSC)
            the new layer is returned.
        to: ``"bsconv_u"`` (Sec. 3.3.1) or ``"bsconv_s"`` (Sec. 3.3.2, subspace ratio ``p``).
        kernel_sizes: the kernel sizes to convert, ints (square) or (KH, KW) pairs; 1x1 convolutions are
            already pointwise and are normally left out.
        p: the BSConv-S subspace ratio in (0, 1], M' = min(M, max(4, ceil(p M))).
        with_bn: put BatchNorm between the pointwise and depthwise steps (not with ``init="svd"``, which
            could then not reproduce the convolution).
        init: ``"default"`` (PyTorch's fresh initialization) or ``"svd"`` (from the trained weights).
        exclude: None, a module name / shell pattern or a list of them (a match on a conv or any of its
            ancestors keeps it), or a callable ``(qualified name, conv) -> bool``.
        reverse_dsc: also replace each DSC (a module with a ``to_bsconv_u()`` method, such as ``DSConv``)
            by its BSConv-U reversal, Sec. 4.1: the same two factors, pointwise first (``to="bsconv_u"``,
            ``init="default"`` only: a DSC's kernel `w_{n,m} B'_m` is no BSConv-U kernel `w_{n,m} B^(n)`).

    The report (``ConversionReport``) is attached to the returned model as ``conversion_report``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    if to not in TARGETS:
        raise ValueError(f"to: expected one of {TARGETS}, got {to!r}")
    if init not in INITS:
        raise ValueError(f"init: expected one of {INITS}, got {init!r}")
    if init == "svd" and with_bn:
        raise ValueError(
            "with_bn: init='svd' reproduces the trained convolution only without BatchNorm between the "
            "pointwise and depthwise steps; expected with_bn=False, got True"
        )
    if to == "bsconv_s":
        subspace_channels(1, p)
    if not isinstance(reverse_dsc, bool):
        raise TypeError(f"reverse_dsc: expected True or False, got {reverse_dsc!r}")
    if reverse_dsc and (to, init) != ("bsconv_u", "default"):
        raise ValueError(
            f"reverse_dsc: a DSC reverses into a freshly initialized BSConv-U; expected to='bsconv_u' and "
            f"init='default', got to={to!r}, init={init!r}"
        )
    sizes = _kernel_sizes(kernel_sizes)
    excluded = _exclusion(model, exclude)
    report = ConversionReport(to, init)

    def replace(name, conv):
        try:
            if _is_dsc(conv) and reverse_dsc:
                layer, (m, n, kernel) = _reversed_dsc(conv)
            else:
                layer = _bsconv_like(conv, to, p, with_bn)
                m, n, kernel = conv.in_channels, conv.out_channels, tuple(conv.kernel_size)
        except ValueError as err:
            raise ValueError(f"layer {name or '<model>'}: {err}") from err
        error = _svd_init(layer, conv) if init == "svd" else None
        report.layers.append(
            ConvertedLayer(
                name,
                kernel,
                m,
                n,
                sum(t.numel() for t in conv.parameters()),
                sum(t.numel() for t in layer.parameters()),
                error,
            )
        )
        log.info(
            "%s: %s %d->%d %s -> %s%s",
            name or "<model>",
            type(conv).__name__,
            m,
            n,
            "x".join(map(str, kernel)),
            to,
            "" if error is None else f", rel. error {error:.3e}",
        )
        return layer

    if _convertible(model, sizes, reverse_dsc):
        model = replace("", model)
    else:
        targets = [t for t in _targets(model, "", sizes, reverse_dsc) if not excluded(t[2], t[3])]
        done: dict[int, nn.Module] = {}
        for _, _, name, conv in targets:  # build every layer first: an error leaves the model unchanged
            if id(conv) not in done:
                done[id(conv)] = replace(name, conv)
        for parent, child_name, _, conv in targets:
            setattr(parent, child_name, done[id(conv)])
    if not report.layers:
        warnings.warn(f"convert: nothing to convert to {to}: {_why_none(model, sizes, excluded)}", stacklevel=2)
    elif report.growth_note() and not reverse_dsc:  # a DSC's reversal keeps its parameters but N K^2 vs M K^2
        warnings.warn(f"convert: {report.growth_note()}", stacklevel=2)
    model.conversion_report = report
    return model


def _why_none(model: nn.Module, kernel_sizes, excluded) -> str:
    """Why no convolution of ``model`` was replaced: what its ``nn.Conv2d`` layers are instead."""
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        return "the model has no nn.Conv2d"
    inside = {id(m) for b in model.modules() if isinstance(b, (BSConvU, BSConvS, DSConv)) for m in b.modules()}
    reasons = {
        "inside BSConv/DSC layers": sum(id(m) in inside for _, m in convs),
        "grouped or depthwise": sum(id(m) not in inside and m.groups != 1 for _, m in convs),
        f"of kernel sizes other than {sorted(kernel_sizes)}": sum(
            id(m) not in inside and m.groups == 1 and tuple(m.kernel_size) not in kernel_sizes for _, m in convs
        ),
        "subclasses of nn.Conv2d": sum(id(m) not in inside and type(m) is not nn.Conv2d for _, m in convs),
        "excluded": sum(
            id(m) not in inside and _convertible(m, kernel_sizes, False) and excluded(n, m) for n, m in convs
        ),
    }
    return f"its {len(convs)} nn.Conv2d are " + ", ".join(f"{k} ({v})" for k, v in reasons.items() if v)
