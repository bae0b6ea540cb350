"""Bad input reaches accel's callers as the same error as from the reference: the shared checks raise it."""
import numpy as np
import pytest

import accel
import reference

rng = np.random.default_rng(0)
X = rng.standard_normal((2, 4, 6, 6))
W = rng.standard_normal((6, 4, 3, 3))
W_PW = rng.standard_normal((6, 4, 1, 1))
W_DW = rng.standard_normal((6, 1, 3, 3))
W_DSC_DW = rng.standard_normal((4, 1, 3, 3))
W_B = rng.standard_normal((2, 4, 1, 1))
W_A = rng.standard_normal((6, 2, 1, 1))


def forwards(backend):
    """Each op's forward as f(**overrides) with valid defaults."""
    return {
        "conv2d": lambda x=X, w=W, **kw: backend.conv2d_forward(x, w, **kw),
        "dsc": lambda x=X, w_dw=W_DSC_DW, w_pw=W_PW, **kw: backend.dsc_forward(x, w_dw, w_pw, **kw),
        "bsconv_u": lambda x=X, w_pw=W_PW, w_dw=W_DW, **kw: backend.bsconv_u_forward(x, w_pw, w_dw, **kw),
        "bsconv_s": lambda x=X, w_b=W_B, w_a=W_A, w_dw=W_DW, **kw: backend.bsconv_s_forward(x, w_b, w_a, w_dw, **kw),
    }


BAD_INPUTS = {
    "x is a list": dict(x=[[1.0]]),
    "x has 3 dimensions": dict(x=X[0]),
    "x is an integer array": dict(x=X.astype(np.int64)),
    "mixed dtypes": dict(x=X.astype(np.float32)),
    "channel mismatch": dict(x=X[:, :3]),
    "stride 0": dict(stride=0),
    "negative padding": dict(padding=-1),
    "dilation 0": dict(dilation=(1, 0)),
    "kernel larger than the padded input": dict(x=X[:, :, :2, :2]),
    "bias of the wrong length": dict(b=np.zeros(5)),
}


def _error(fn, **kw):
    with pytest.raises((TypeError, ValueError)) as info:
        fn(**kw)
    return info.type, str(info.value)


@pytest.mark.parametrize("op", ["conv2d", "dsc", "bsconv_u", "bsconv_s"])
@pytest.mark.parametrize("bad", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_forward_input_raises_the_reference_error(op, bad):
    kw = BAD_INPUTS[bad]
    assert _error(forwards(accel)[op], **kw) == _error(forwards(reference)[op], **kw)


def test_conv2d_groups_not_dividing_channels_raises_the_reference_error():
    w = rng.standard_normal((6, 2, 3, 3))
    assert _error(accel.conv2d_forward, x=X, w=w, groups=3) == _error(reference.conv2d_forward, x=X, w=w, groups=3)


@pytest.mark.parametrize("op", ["conv2d", "dsc", "bsconv_u", "bsconv_s"])
def test_backward_refuses_a_gradient_of_the_wrong_shape_or_dtype(op):
    y, cache = forwards(accel)[op]()
    for dy, error in ((np.ones(y.shape[:-1]), ValueError), (np.ones(y.shape, np.float32), TypeError)):
        with pytest.raises(error, match="dy"):
            getattr(accel, f"{op}_backward")(dy, cache)


def test_orthonormal_loss_refuses_a_non_pointwise_weight():
    bad = rng.standard_normal((2, 4, 3, 3))
    assert _error(accel.orthonormal_loss, w_b=bad) == _error(reference.orthonormal_loss, w_b=bad)
