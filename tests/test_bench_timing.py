"""The benchmarks' shared timing (alternated rounds, median and spread) and the byte count of the depthwise step."""
import pytest

from blueprint.benchmarks.ops import Shape, depthwise_bytes
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


def test_depthwise_bytes_count_each_array_once():
    s = Shape(batch=2, m=3, n=5, size=8, k=3, stride=2)  # x (2, 5, 8, 8), y and dy (2, 5, 4, 4), float32
    x, y = 4 * 2 * 5 * 64, 4 * 2 * 5 * 16
    assert depthwise_bytes(s, with_backward=False) == x + y
    assert depthwise_bytes(s, with_backward=True) == x + y + y + 2 * x  # + dy read, x read, dx written
