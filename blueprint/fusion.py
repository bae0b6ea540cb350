"""``fuse(model)``: the same function in eval mode with fewer operations, for deployment.

Two rewrites, each exact in eval mode (BatchNorm then uses its running statistics):

- **BatchNorm folding.** An eval-mode BatchNorm is the per-channel affine map ``y = s x + t`` with
  ``s = gamma / sqrt(var + eps)`` and ``t = beta - s mu``. After a convolution (``x = W * u + b``) it folds into
  the convolution's output channels: ``W' = s W``, ``b' = s b + t``. This covers the BatchNorm between
  BSConv-U's pointwise and depthwise steps (and BSConv-S's after each pointwise step): it goes into the
  pointwise weights and a pointwise bias, *before* the depthwise step's zero padding, so the padded border
  stays exact. Before a convolution without padding (a 1x1 with ``padding=0``) it folds into the input
  channels instead: ``W'_{n,m} = W_{n,m} s_m``, ``b'_n = b_n + sum_{m,k} W_{n,m,k} t_m``. A BatchNorm that is
  next to no convolution (after a residual sum, or before a padded convolution, where the padding would see
  ``t`` instead of 0) stays, and the report says why.
- **Merging BSConv-S's two pointwise steps** (Eq. 8, ``W = W^A W^B``, biases ``b = W^A b^B + b^A``) into the
  one pointwise step of a BSConv-U, where that costs fewer multiply-adds per pixel: ``M N < M' (M + N)``.
  Both pointwise steps run at the input's resolution (before the depthwise stride), so the per-pixel counts
  compare the whole cost.

Which module feeds which is read from a ``torch.fx`` trace of the model (on the torch backend), so folding
follows the data flow of any model's ``forward``, not the order its children were registered in.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
import torch.fx as fx
import torch.nn as nn

from blueprint.backend import use_backend
from blueprint.layers import BSConvS, BSConvU, DSConv
from blueprint.tables import format_table


@dataclass
class FusionStep:
    """One rewrite (or one BatchNorm left alone): the module, what happened, and the detail of why or how."""

    name: str
    action: str
    detail: str


@dataclass
class FusionReport:
    """What ``fuse`` did, one ``FusionStep`` per BatchNorm and per BSConv-S layer."""

    steps: list[FusionStep] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(s.action == action for s in self.steps)

    def table(self) -> str:
        counts = ", ".join(f"{a} {self.count(a)}" for a in dict.fromkeys(s.action for s in self.steps))
        rows = [(s.name, s.action, s.detail) for s in self.steps]
        return f"fuse: {counts or 'nothing to fuse'}\n" + format_table(("module", "action", "detail"), rows, "<<<")


def batchnorm_affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The eval-mode BatchNorm as ``y = s x + t``: ``s = gamma / sqrt(var + eps)``, ``t = beta - s mu`` (C,)."""
    s = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        s = s * bn.weight
    t = -s * bn.running_mean
    if bn.bias is not None:
        t = t + bn.bias
    return s, t


def fold_after(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """BatchNorm after ``conv``, into its output channels: ``W' = s W``, ``b' = s b + t`` (in place)."""
    s, t = batchnorm_affine(bn)
    bias = t if conv.bias is None else s * conv.bias + t
    conv.weight = nn.Parameter(conv.weight * s.view(-1, 1, 1, 1))  # N,M/g,K,K
    conv.bias = nn.Parameter(bias)


def fold_before(bn: nn.BatchNorm2d, conv: nn.Conv2d) -> None:
    """BatchNorm before an unpadded ``conv``, into its input channels (in place):
    ``W'_{n,m} = W_{n,m} s_m``, ``b'_n = b_n + sum_{m,k} W_{n,m,k} t_m`` (m over the input channels of n's group)."""
    s, t = batchnorm_affine(bn)
    n, m_group = conv.weight.shape[:2]
    groups = conv.groups

    def per_filter(v):  # M -> N,M/g: each filter's input channels
        return v.view(groups, 1, m_group).expand(groups, n // groups, m_group).reshape(n, m_group)

    shift = (conv.weight.sum(dim=(2, 3)) * per_filter(t)).sum(dim=1)  # N
    bias = shift if conv.bias is None else conv.bias + shift
    conv.weight = nn.Parameter(conv.weight * per_filter(s)[:, :, None, None])  # N,M/g,K,K
    conv.bias = nn.Parameter(bias)


def merge_is_cheaper(in_channels: int, mid_channels: int, out_channels: int) -> bool:
    """Whether one pointwise step W = W^A W^B costs fewer multiply-adds per pixel than two: M N < M' (M + N)."""
    return in_channels * out_channels < mid_channels * (in_channels + out_channels)


def merged_pointwise(pw1: nn.Conv2d, pw2: nn.Conv2d) -> nn.Conv2d:
    """One 1x1 convolution for W^B then W^A (Eq. 8): ``W = W^A W^B``, ``b = W^A b^B + b^A``."""
    w_b, w_a = pw1.weight[:, :, 0, 0], pw2.weight[:, :, 0, 0]  # M',M and N,M'
    conv = nn.Conv2d(pw1.in_channels, pw2.out_channels, 1, bias=pw1.bias is not None or pw2.bias is not None)
    conv = conv.to(device=w_a.device, dtype=w_a.dtype)
    conv.weight = nn.Parameter((w_a @ w_b)[:, :, None, None])  # N,M,1,1
    if conv.bias is not None:
        bias = torch.zeros(pw2.out_channels, dtype=w_a.dtype, device=w_a.device)
        if pw1.bias is not None:
            bias = bias + w_a @ pw1.bias
        if pw2.bias is not None:
            bias = bias + pw2.bias
        conv.bias = nn.Parameter(bias)
    return conv


def fuse(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with every foldable BatchNorm folded and every BSConv-S merged where
    cheaper; ``model`` itself is left unchanged. The copy's ``fusion_report`` (a ``FusionReport``) lists each
    step; ``print(fused.fusion_report.table())`` prints it."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    fused = copy.deepcopy(model).eval()
    report = FusionReport()
    with torch.no_grad():
        _fold_batchnorms(fused, report)
        fused = _merge_subspaces(fused, report)
    fused.fusion_report = report
    return fused


def _trace(model: nn.Module) -> fx.Graph:
    """The data flow of ``model``'s forward; BSConv layers are traced on the torch backend, step by step."""
    try:
        with use_backend("torch"):
            return fx.Tracer().trace(model)
    except Exception as err:  # fx raises many kinds on data-dependent control flow; name the cause in one line
        raise ValueError(f"model: cannot trace {type(model).__name__}'s forward with torch.fx ({err})") from err


def _fold_batchnorms(model: nn.Module, report: FusionReport) -> None:
    graph = _trace(model)
    modules = dict(model.named_modules())
    calls: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1

    def single_conv(node) -> bool:
        """A call of an nn.Conv2d used nowhere else in the graph."""
        return (
            isinstance(node, fx.Node)
            and node.op == "call_module"
            and type(modules[node.target]) is nn.Conv2d
            and calls[node.target] == 1
        )

    for node in list(graph.nodes):
        if node.op != "call_module" or not isinstance(modules[node.target], nn.BatchNorm2d):
            continue
        bn, source = modules[node.target], node.args[0]
        users = list(node.users)
        if bn.running_mean is None or calls[node.target] != 1:
            reason = "uses batch statistics" if bn.running_mean is None else "called more than once"
            report.steps.append(FusionStep(node.target, "kept", reason))
            continue
        if single_conv(source) and len(source.users) == 1:
            fold_after(modules[source.target], bn)
            report.steps.append(FusionStep(node.target, "folded", f"into the output of {source.target}"))
        elif len(users) == 1 and single_conv(users[0]) and _unpadded(modules[users[0].target]):
            fold_before(bn, modules[users[0].target])
            report.steps.append(FusionStep(node.target, "folded", f"into the input of {users[0].target}"))
        else:
            report.steps.append(FusionStep(node.target, "kept", "next to no convolution it can fold into exactly"))
            continue
        _remove(model, node.target)


def _unpadded(conv: nn.Conv2d) -> bool:
    return conv.padding != "same" and not any(conv.padding)


def _remove(model: nn.Module, name: str) -> None:
    """Take a folded BatchNorm out: deleted from a BSConv/DSC layer (which then holds only its convolutions,
    as the accel backend wants), replaced by ``nn.Identity`` anywhere else, so that positions in an
    ``nn.Sequential`` and names a forward calls stay valid."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name)
    if isinstance(parent, (BSConvU, BSConvS, DSConv)):
        del parent._modules[child]
    else:
        setattr(parent, child, nn.Identity())


def _merge_subspaces(model: nn.Module, report: FusionReport) -> nn.Module:
    """Merge each BSConv-S where cheaper; returns the model (the merged layer itself if ``model`` is one)."""
    for name, layer in list(model.named_modules()):
        if not isinstance(layer, BSConvS):
            continue
        children = dict(layer.named_children())
        if set(children) != {"pw1", "pw2", "dw"}:
            report.steps.append(FusionStep(name, "kept", "a BatchNorm between its steps was not folded"))
            continue
        pw1, pw2, dw = children["pw1"], children["pw2"], children["dw"]
        m, m_sub, n = pw1.in_channels, pw1.out_channels, pw2.out_channels
        costs = f"M N = {m * n:,} vs M'(M + N) = {m_sub * (m + n):,} multiply-adds per pixel"
        if not merge_is_cheaper(m, m_sub, n):
            report.steps.append(FusionStep(name, "kept two", costs))
            continue
        merged = BSConvU(
            m, n, dw.kernel_size, dw.stride, dw.padding, dw.dilation, dw.bias is not None, dw.padding_mode
        ).to(device=dw.weight.device, dtype=dw.weight.dtype)
        merged.pw, merged.dw = merged_pointwise(pw1, pw2), dw
        report.steps.append(FusionStep(name, "merged", costs))
        if not name:
            return merged.eval()
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, merged.eval())
    return model
