"""The warm-start studies' bookkeeping (``blueprint.studies``): epochs to the baseline, the summary, the data at 32x32."""

import torch

from blueprint.studies.cifar_shaped import write_digits_as_cifar10
from blueprint.studies.warm_start import MARGINS, epochs_to_reach, summarize, table
from blueprint.training.cifar import load_cifar
from blueprint.training.digits import load_digits


def test_epochs_to_reach_counts_the_start_as_epoch_0_and_says_none_when_never():
    assert epochs_to_reach([0.1, 0.5, 0.9, 0.8], 0.9) == 2
    assert epochs_to_reach([0.95, 0.5], 0.9) == 0
    assert epochs_to_reach([0.1, 0.5], 0.9) is None


def test_summary_takes_median_and_range_over_the_seeds_that_reached_the_baseline():
    def row(seed, curve):
        return dict(
            model="m",
            path="init",
            seed=seed,
            test_acc=curve,
            epochs_to_baseline={f"{m:g}": epochs_to_reach(curve, 0.99 - m) for m in MARGINS},
        )

    rows = [row(0, [0.5, 0.986, 0.99]), row(1, [0.5, 0.9, 0.97]), row(2, [0.5, 0.96, 0.987])]
    (s,) = summarize(rows, baseline_acc=0.99)
    assert s["within"]["0.005"] == dict(reached=2, median=1.5, range=[1, 2])
    assert s["within"]["0.05"] == dict(reached=3, median=1, range=[1, 2])
    assert s["final_median"] == 0.987 and s["final_range"] == [0.97, 0.99] and s["start_median"] == 0.5
    assert "| m | init | 50.0% | 1.5 [1-2] (2/3) |" in table([s], epochs=2)
    assert "> 2 (0/1)" in table(summarize([row(0, [0.1, 0.2, 0.3])], 0.99), epochs=2)


def test_digits_drawn_as_cifar10_are_the_digits_repeated_4x_in_three_channels(tmp_path):
    data = load_cifar("cifar10", write_digits_as_cifar10(str(tmp_path)))
    digits = load_digits()
    assert data.x_train.shape == (len(digits.y_train), 3, 32, 32) and torch.equal(data.y_test, digits.y_test)
    expected = torch.round(digits.x_train[:5].double() * 255 / 16).to(torch.uint8)  # B,1,8,8
    assert torch.equal(data.x_train[:5, :, ::4, ::4], expected.expand(-1, 3, -1, -1))
    assert torch.equal(data.x_train[:5, :, 3::4, 3::4], data.x_train[:5, :, ::4, ::4])
