"""DSC, BSConv-U and BSConv-S as chains of pointwise and depthwise convolutions.

Pointwise steps are 1x1 convolutions; depthwise steps are convolutions with one group per channel,
both ``conv2d_forward`` / ``conv2d_backward``. stride, padding and dilation apply to the depthwise
(spatial) step; the bias is added to the final output.

Backward passes are the chain rule through the steps in reverse order: each step's backward turns the
gradient of its output into the gradients of its input and its weights. ``reference.naive`` states the
same ops independently, as loops of Eq. (4), (10)-(11) and Sec. 4.1 over the full sums.
"""

from __future__ import annotations

from reference import checks
from reference.conv2d import conv2d_backward, conv2d_forward


def _pointwise(x, w, b=None):
    return conv2d_forward(x, w, b)


def _depthwise(x, w, b, stride, padding, dilation):
    return conv2d_forward(x, w, b, stride, padding, dilation, groups=x.shape[1])


def dsc_forward(x, w_dw, w_pw, b=None, stride=1, padding=0, dilation=1):
    """Sec. 4.1: depthwise with B' (M, 1, K, K), then pointwise with W (N, M, 1, 1).

    Equals ``conv2d_forward(x, dsc_kernel(w_dw, w_pw), b, ...)``. Returns ``(y, cache)``.
    """
    checks.check_dsc(x, w_dw, w_pw, b, stride, padding, dilation)
    u, dw_cache = _depthwise(x, w_dw, None, stride, padding, dilation)  # B,M,Ho,Wo
    y, pw_cache = _pointwise(u, w_pw, b)  # B,N,Ho,Wo
    return y, (dw_cache, pw_cache, y.shape, y.dtype)


def dsc_backward(dy, cache):
    """Reverse of ``dsc_forward``: pointwise backward, then depthwise backward.

    Returns ``(dx, dw_dw, dw_pw, db)``.
    """
    checks.check_cache("dsc", cache, 4)
    dw_cache, pw_cache, y_shape, y_dtype = cache
    checks.check_grad("dy", dy, y_shape, y_dtype)
    du, dw_pw, db = conv2d_backward(dy, pw_cache)
    dx, dw_dw, _ = conv2d_backward(du, dw_cache)
    return dx, dw_dw, dw_pw, db


def bsconv_u_forward(x, w_pw, w_dw, b=None, stride=1, padding=0, dilation=1):
    """Eq. (6)-(7): V' = U * w~ (pointwise, W is (N, M, 1, 1)), then V = V' * B (depthwise, (N, 1, K, K)).

    Equals ``conv2d_forward(x, bsconv_u_kernel(w_pw, w_dw), b, ...)`` (Eq. 4-5). Returns ``(y, cache)``.
    """
    checks.check_bsconv_u(x, w_pw, w_dw, b, stride, padding, dilation)
    v_prime, pw_cache = _pointwise(x, w_pw)  # B,N,H,W
    y, dw_cache = _depthwise(v_prime, w_dw, b, stride, padding, dilation)  # B,N,Ho,Wo
    return y, (pw_cache, dw_cache, y.shape, y.dtype)


def bsconv_u_backward(dy, cache):
    """Reverse of Eq. (6)-(7): depthwise backward gives dV' and dB, pointwise backward gives dx and dW.

    Returns ``(dx, dw_pw, dw_dw, db)``.
    """
    checks.check_cache("bsconv_u", cache, 4)
    pw_cache, dw_cache, y_shape, y_dtype = cache
    checks.check_grad("dy", dy, y_shape, y_dtype)
    dv_prime, dw_dw, db = conv2d_backward(dy, dw_cache)
    dx, dw_pw, _ = conv2d_backward(dv_prime, pw_cache)
    return dx, dw_pw, dw_dw, db


def bsconv_s_forward(x, w_b, w_a, w_dw, b=None, stride=1, padding=0, dilation=1):
    """Eq. (12)-(14): U' = U * w~^B (to M' channels), V' = U' * w~^A (to N), V = V' * B (depthwise).

    Equals ``conv2d_forward(x, bsconv_s_kernel(w_b, w_a, w_dw), b, ...)`` (Eq. 10-11). Returns ``(y, cache)``.
    """
    checks.check_bsconv_s(x, w_b, w_a, w_dw, b, stride, padding, dilation)
    u_prime, b_cache = _pointwise(x, w_b)  # B,M',H,W
    v_prime, a_cache = _pointwise(u_prime, w_a)  # B,N,H,W
    y, dw_cache = _depthwise(v_prime, w_dw, b, stride, padding, dilation)  # B,N,Ho,Wo
    return y, (b_cache, a_cache, dw_cache, y.shape, y.dtype)


def bsconv_s_backward(dy, cache):
    """Reverse of Eq. (12)-(14), one step at a time. Returns ``(dx, dw_b, dw_a, dw_dw, db)``."""
    checks.check_cache("bsconv_s", cache, 5)
    b_cache, a_cache, dw_cache, y_shape, y_dtype = cache
    checks.check_grad("dy", dy, y_shape, y_dtype)
    dv_prime, dw_dw, db = conv2d_backward(dy, dw_cache)
    du_prime, dw_a, _ = conv2d_backward(dv_prime, a_cache)
    dx, dw_b, _ = conv2d_backward(du_prime, b_cache)
    return dx, dw_b, dw_a, dw_dw, db
