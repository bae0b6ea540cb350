"""``blueprint verify`` catches a deliberately wrong implementation for every entry, and says how to rerun it.

Each fault is one classic mistake put into one function that an entry checks (through its module, as
the entries call it): a transposed weight, a dropped bias gradient, a padding off by one, a gradient
off by a factor or shifted by one pixel. A verify run of that entry must then exit with 1 and print the
failing case and the command that reruns it.
"""

import json
import re

import numpy as np
import pytest
import torch.nn as nn
import torch.nn.functional as F

import accel
import blueprint
import reference
from blueprint import backend, cli, regularization
from blueprint import progress as progress_module
from blueprint.verification import EQUATIONS
from reference import checks


def transposed(function, index):
    """``function`` with its argument ``index`` transposed in its last two axes (a weight read as W^T)."""

    def faulty(*args, **kwargs):
        args = list(args)
        args[index] = np.ascontiguousarray(args[index].swapaxes(-1, -2))
        return function(*args, **kwargs)

    return faulty


def padding_off_by_one(function):
    def faulty(*args, padding=0, **kwargs):
        ph, pw = checks.int_pair("padding", padding, 0)
        return function(*args, padding=(ph + 1, pw), **kwargs)

    return faulty


def gradient(function, index, change):
    """``function`` (a backward) with its gradient ``index`` replaced by ``change(gradient)``."""

    def faulty(*args, **kwargs):
        grads = list(function(*args, **kwargs))
        grads[index] = change(grads[index])
        return tuple(grads)

    return faulty


def dropped(g):
    return None


def zeroed(g):
    return None if g is None else np.zeros_like(g)


def shifted(g):
    return np.roll(g, 1, axis=-1)


def halved(function):
    return lambda *args: function(*args) / 2


def squared(function):
    return lambda w_b: function(w_b) ** 2


def last_component(w):
    """PC1's share computed with the smallest singular value instead of the largest."""
    samples = w.reshape(w.shape[0], w.shape[1], -1)
    s = np.linalg.svd(samples - samples.mean(axis=1, keepdims=True), compute_uv=False)
    total = np.sum(s * s, axis=1)
    return np.where(total > 0, s[:, -1] ** 2 / np.where(total > 0, total, 1), 1.0).astype(w.dtype)


def _conv_with_transposed_weight(self, x):
    return self._conv_forward(x, self.weight.transpose(2, 3), self.bias)


def _bsconv_u_padding_off_by_one(self, x):
    dw = self.dw
    return F.conv2d(
        self.pw(x), dw.weight, dw.bias, dw.stride, (dw.padding[0] + 1, dw.padding[1]), dw.dilation, dw.groups
    )


def _bsconv_s_transposed_w_a(self, x):
    return self.dw(F.conv2d(self.pw1(x), self.pw2.weight.transpose(0, 1)))


def _dsc_dropped_bias_gradient(self, x):
    return F.conv2d(self.dw(x), self.pw.weight, None if self.pw.bias is None else self.pw.bias.detach())


def _accel_op_dropped_bias_gradient(op):
    return lambda *args, **kwargs: op(*args[:-1], None if args[-1] is None else args[-1].detach(), **kwargs)


FAULTS = {  # entry key: (where, name, the faulty replacement)
    "eq3": (reference, "conv2d_forward", transposed(reference.conv2d_forward, 1)),
    "eq2-7": (reference, "bsconv_u_forward", transposed(reference.bsconv_u_forward, 2)),
    "eq8-14": (reference, "bsconv_s_forward", padding_off_by_one(reference.bsconv_s_forward)),
    "sec4.1": (reference, "dsc_kernel", transposed(reference.dsc_kernel, 0)),
    "eq9": (reference, "orthonormal_loss_backward", halved(reference.orthonormal_loss_backward)),
    "eq9-fd": (reference, "orthonormal_loss_backward", halved(reference.orthonormal_loss_backward)),
    "conv2d-naive": (reference, "conv2d_backward", gradient(reference.conv2d_backward, 2, dropped)),
    "dsc-naive": (reference, "dsc_backward", gradient(reference.dsc_backward, 2, lambda g: g.swapaxes(0, 1))),
    "bsconv_u-naive": (reference, "bsconv_u_forward", padding_off_by_one(reference.bsconv_u_forward)),
    "bsconv_s-naive": (reference, "bsconv_s_backward", gradient(reference.bsconv_s_backward, 4, dropped)),
    "conv2d-fd": (reference, "conv2d_backward", gradient(reference.conv2d_backward, 2, zeroed)),
    "dsc-fd": (reference, "dsc_backward", gradient(reference.dsc_backward, 0, shifted)),
    "bsconv_u-fd": (
        reference,
        "bsconv_u_backward",
        gradient(reference.bsconv_u_backward, 2, lambda g: g.swapaxes(2, 3)),
    ),
    "bsconv_s-fd": (reference, "bsconv_s_backward", gradient(reference.bsconv_s_backward, 4, zeroed)),
    "pc1": (reference, "pc1_explained_variance", last_component),
    "rank1": (reference, "blueprint_factorize", gradient(reference.blueprint_factorize, 1, lambda g: g.swapaxes(2, 3))),
    "conv2d-accel": (accel, "conv2d_forward", padding_off_by_one(accel.conv2d_forward)),
    "dsc-accel": (accel, "dsc_backward", gradient(accel.dsc_backward, 3, dropped)),
    "bsconv_u-accel": (accel, "bsconv_u_forward", transposed(accel.bsconv_u_forward, 2)),
    "bsconv_s-accel": (accel, "bsconv_s_backward", gradient(accel.bsconv_s_backward, 0, shifted)),
    "conv2d-torch": (nn.Conv2d, "forward", _conv_with_transposed_weight),
    "dsc-torch": (blueprint.DSConv, "forward", _dsc_dropped_bias_gradient),
    "bsconv_u-torch": (blueprint.BSConvU, "forward", _bsconv_u_padding_off_by_one),
    "bsconv_s-torch": (blueprint.BSConvS, "forward", _bsconv_s_transposed_w_a),
    "dsc-torch-accel": (backend, "dsc", _accel_op_dropped_bias_gradient(backend.dsc)),
    "bsconv_u-torch-accel": (backend, "bsconv_u", padding_off_by_one(backend.bsconv_u)),
    "bsconv_s-torch-accel": (backend, "bsconv_s", transposed(backend.bsconv_s, 3)),
    "eq9-accel": (accel, "orthonormal_loss_backward", halved(accel.orthonormal_loss_backward)),
    "eq9-torch": (regularization, "orthonormal_penalty", squared(regularization.orthonormal_penalty)),
}


def verify(capsys, *args):
    code = cli.main(["verify", "--seed", "0", *args])
    return code, capsys.readouterr()


def test_every_entry_has_a_fault_it_must_catch():
    assert sorted(FAULTS) == sorted(e.key for e in EQUATIONS)


@pytest.mark.parametrize("key", FAULTS)
def test_verify_catches_the_injected_fault(key, monkeypatch, capsys):
    where, name, faulty = FAULTS[key]
    monkeypatch.setattr(where, name, faulty)
    code, out = verify(capsys, "--equation", key, "--cases", "10")
    assert code == 1, out.out
    assert re.search(rf"  {re.escape(key)}  .*  FAIL \(\d+\)$", out.out, re.M)
    assert f"First failing case: {key} case " in out.out
    assert f"rerun it: blueprint verify --seed 0 --equation {key} --cases " in out.out


def test_the_rerun_line_reproduces_the_failing_case(monkeypatch, capsys):
    monkeypatch.setattr(reference, "bsconv_s_backward", gradient(reference.bsconv_s_backward, 4, dropped))
    _, first = verify(capsys, "--equation", "bsconv_s-naive", "--cases", "10")
    case = re.search(r"First failing case: (.*)", first.out).group(1)
    rerun = re.search(r"rerun it: blueprint verify (.*)", first.out).group(1).split()
    code, again = verify(capsys, *rerun)
    assert code == 1 and re.search(r"First failing case: (.*)", again.out).group(1) == case


def test_agreement_entries_of_one_op_run_on_the_same_cases(monkeypatch, capsys):
    """A fault in the reference's BSConv-U backward fails every backend's agreement entry on the same case."""
    monkeypatch.setattr(reference, "bsconv_u_backward", gradient(reference.bsconv_u_backward, 3, zeroed))
    _, out = verify(capsys, "--equation", "bsconv_u-naive", "bsconv_u-accel", "bsconv_u-torch", "--cases", "10")
    failing = set(re.findall(r"First failing case: \S+ (case .*)", out.out))
    assert len(failing) == 1
    for key in ("bsconv_u-accel", "bsconv_u-torch"):
        _, alone = verify(capsys, "--equation", key, "--cases", "10")
        assert set(re.findall(r"First failing case: \S+ (case .*)", alone.out)) == failing


def test_a_clean_run_passes_and_writes_json(tmp_path, capsys):
    path = tmp_path / "verify.json"
    code, out = verify(capsys, "--equation", "eq9*", "bsconv_u-torch", "--cases", "3", "--json", str(path))
    assert code == 0, out.out
    report = json.loads(path.read_text())
    assert report["seed"] == 0 and report["cases"] == 3
    assert [r["key"] for r in report["results"]] == ["eq9", "eq9-fd", "bsconv_u-torch", "eq9-accel", "eq9-torch"]
    assert all(r["passed"] and r["cases"] == 3 and r["max_error"] <= r["tolerance"] for r in report["results"])
    assert "all 5 entries hold on 3 cases each (seed 0)" in out.out


def test_progress_off_a_terminal_is_the_package_bar_naming_the_running_entry(monkeypatch, capsys):
    monkeypatch.setattr(progress_module, "LINE_INTERVAL_S", 0.0)
    code, out = verify(capsys, "--equation", "eq9", "eq9-fd", "--cases", "2")
    lines = out.err.splitlines()
    assert code == 0 and lines and all(line.startswith("verify:") for line in lines), lines
    assert any(line.rstrip().endswith("eq9-fd]") for line in lines) and "\r" not in out.err


def test_a_repeated_equation_or_backends_flag_adds_to_the_list(capsys):
    """``--equation eq9 --equation eq9-fd`` runs both entries (argparse's default would keep only the last),
    as ``--equation eq9 eq9-fd`` does; ``--backends`` adds up the same way."""

    def keys(out):  # the key column of the rows between the header's rule and the verdict line
        return [re.split(r"\s{2,}", row)[1] for row in out.split("\n")[3:-2]]

    code, out = verify(capsys, "--equation", "eq9", "--equation", "eq9-fd", "--cases", "1")
    assert code == 0 and keys(out.out) == ["eq9", "eq9-fd"], out.out
    code, out = verify(capsys, "--backends", "reference", "--backends", "accel", "--equation", "eq9*", "--cases", "1")
    assert code == 0 and keys(out.out) == ["eq9-fd", "eq9-accel"], out.out


def test_backends_select_the_entries_that_run_only_on_them(capsys):
    code, out = verify(capsys, "--backends", "reference", "--cases", "1")
    assert code == 0
    rows = out.out.split("\n")[3 : 3 + 5]  # after the seed line, the header and the rule
    assert [re.split(r"\s{2,}", row)[1] for row in rows] == [
        "eq9-fd",
        "conv2d-fd",
        "dsc-fd",
        "bsconv_u-fd",
        "bsconv_s-fd",
    ]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--equation", "eq99"], "blueprint verify: error: --equation: no entry matches 'eq99'; expected one of eq3, "),
        (["--cases", "0"], "blueprint verify: error: --cases: expected an int >= 1, got 0"),
        (
            ["--backends", "gpu"],
            "blueprint verify: error: --backends: expected some of reference, naive, accel, torch, "
            "torch-accel, got gpu",
        ),
        (["--backends", "accel"], "blueprint verify: error: --backends: no selected entry runs on only accel"),
        (["--json", "/nonexistent/v.json"], "blueprint verify: error: --json: the folder '/nonexistent' of "),
    ],
)
def test_bad_arguments_end_in_one_line(args, message, capsys):
    code, out = verify(capsys, *args)
    assert code == 2
    assert out.err.startswith(message) and out.err.count("\n") == 1
