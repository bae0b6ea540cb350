"""The benchmarks' shared timing (alternated rounds, median and spread), the fewest bytes of an op and the rates."""

import pytest

from blueprint.benchmarks.machine import rate
from blueprint.benchmarks.ops import Shape, fewest_bytes
from blueprint.benchmarks.timing import alternated_ms, median_spread


def test_alternated_rounds_rotate_the_order_and_time_every_call():
    order = []
    calls = {name: (lambda name=name: order.append(name)) for name in "abc"}
    rounds = []
    ms = alternated_ms(calls, repeats=3, warmup=1, on_round=lambda: rounds.append(len(order)))
    assert rounds == [3, 9, 15, 21]  # after the warm-up round and after each timed round
    # one warm-up round, then rotated rounds, each timed call right after an untimed one of the same side
    assert order == list("abc") + list("aabbcc") + list("bbccaa") + list("ccaabb")
    assert {name: len(times) for name, times in ms.items()} == {"a": 3, "b": 3, "c": 3}
    assert all(t >= 0 for times in ms.values() for t in times)


def test_median_spread_is_the_median_and_the_interquartile_range_over_it():
    assert median_spread([4.0]) == (4.0, 0.0)
    assert median_spread([1.0, 2.0, 3.0, 4.0, 5.0]) == (3.0, pytest.approx((4.0 - 2.0) / 3.0))


def test_fewest_bytes_count_each_array_once():
    s = Shape(batch=2, m=3, n=5, size=8, k=3, stride=2)  # depthwise x (2, 5, 8, 8), y and dy (2, 5, 4, 4), float32
    x, y, w = 4 * 2 * 5 * 64, 4 * 2 * 5 * 16, 4 * (5 * 9 + 5)  # weights: (5, 1, 3, 3) and the bias
    assert fewest_bytes("depthwise", s, with_backward=False) == x + y + w
    # + dy read, x and the weights read again, dx and the weights' gradients written
    assert fewest_bytes("depthwise", s, with_backward=True) == x + y + w + y + 2 * x + 2 * w
    x, w = 4 * 2 * 3 * 64, 4 * (5 * 3 + 5 * 9 + 5)  # BSConv-U: x has M = 3 channels; W (5, 3, 1, 1), W_dw, bias
    assert fewest_bytes("bsconv_u", s, with_backward=False) == x + y + w


def test_rate_is_amount_per_millisecond_in_billions_per_second():
    assert rate(3e9, 1000.0) == pytest.approx(3.0)  # 3 GFLOP in one second
    assert rate(2e6, 0.5) == pytest.approx(4.0)
