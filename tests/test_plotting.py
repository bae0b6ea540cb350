"""``blueprint.plotting``: the library's figures are written whatever the fonts (with a warning when their text
would read below 10 pt in the book's column); the book refuses such a figure where it shows one.

The suite turns ``SmallTextWarning`` into an error (``pyproject.toml``), so these tests catch it explicitly.
"""

import warnings

import matplotlib
import numpy as np
import pytest
from PIL import Image

from blueprint import plotting
from blueprint.course import kit

TINY_FONTS = {"font.size": 4.0}  # a user's matplotlibrc: every text, tick and legend at 4 pt


def recorded(path) -> dict[str, str]:
    """The PNG's text chunks, read by Pillow (not by the code under test)."""
    with Image.open(path) as image:
        return dict(image.text)


def test_small_text_is_written_with_a_warning_and_refused_by_check_readable(tmp_path):
    """An 8 pt title, or 9 pt labels on a figure 11 in wide (shown at 7/11 of its size, 5.x pt): ``save`` writes
    the PNG and warns; ``check_readable`` (the book's door) raises with the size the column would show."""
    small = plotting.figure(3.0)
    small.subplots().set_title("small", fontsize=8)
    with pytest.warns(plotting.SmallTextWarning, match=r"smallest text \(8 pt .* at 8\.0 pt"):
        plotting.save(small, tmp_path / "small.png")
    wide = plotting.figure(3.0, width=11.0)
    wide.subplots().set_xlabel("nine points", fontsize=9)
    with pytest.warns(plotting.SmallTextWarning, match=r"at 5\.\d pt"):
        plotting.save(wide, tmp_path / "wide.png")
    for name, shown in (("small", r"8\.0"), ("wide", r"5\.\d")):
        assert recorded(tmp_path / f"{name}.png")[plotting.DPI_KEY] == str(plotting.DPI)
        with pytest.raises(ValueError, match=rf"figure: .*{name}\.png would show .* at {shown} pt"):
            plotting.check_readable(tmp_path / f"{name}.png")


def test_default_sizes_at_the_column_width_pass_and_record_their_font_and_dpi(tmp_path):
    fine = plotting.figure(3.0)
    fine.subplots().plot([0, 1], label="a line")
    plotting.save(fine, tmp_path / "fine.png")  # no warning: the suite would fail on one
    plotting.check_readable(tmp_path / "fine.png")
    texts = recorded(tmp_path / "fine.png")
    assert texts[plotting.FONT_KEY] == "10" and texts[plotting.DPI_KEY] == str(plotting.DPI)
    with Image.open(tmp_path / "fine.png") as image:
        assert image.width <= plotting.COLUMN_INCHES * plotting.DPI


def test_check_readable_refuses_a_png_not_written_by_save(tmp_path):
    Image.new("RGB", (10, 10)).save(tmp_path / "plain.png")
    with pytest.raises(ValueError, match=r"plain\.png has no record of its smallest font"):
        plotting.check_readable(tmp_path / "plain.png")


def test_training_curves_under_a_tiny_font_rc_are_still_written(tmp_path):
    """``blueprint train`` draws its curves with ``plot_curves`` at every interval: a matplotlibrc with 4 pt fonts
    must cost a warning, never the run."""
    from blueprint.training.metrics import plot_curves

    history = [dict(epoch=e, train_loss=1.0 / e, test_loss=1.2 / e, train_acc=0.9, test_acc=0.8) for e in (1, 2)]
    with matplotlib.rc_context(TINY_FONTS), pytest.warns(plotting.SmallTextWarning, match=r"\(4 pt"):
        plot_curves({"m": history}, str(tmp_path / "curves.png"))
    assert recorded(tmp_path / "curves.png")[plotting.FONT_KEY] == "4"


def test_analysis_figures_under_a_tiny_font_rc_are_still_written_and_long_titles_wrap(tmp_path):
    """``blueprint analyze``'s two figures: under 4 pt fonts from the rc they write their PNGs with a warning; a
    layer name or checkpoint path long enough to widen the figure past the column is wrapped instead (no warning:
    the text stays readable)."""
    import torch.nn as nn

    from blueprint.analysis import analyze_kernels, plot_kernel_slices, plot_pc1_histogram

    weight = np.random.default_rng(0).normal(size=(4, 3, 3, 3))
    with matplotlib.rc_context(TINY_FONTS), pytest.warns(plotting.SmallTextWarning):
        plot_kernel_slices(weight, 0, tmp_path / "slices.png")
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    result = analyze_kernels(model, input_size=(1, 8, 8))
    with matplotlib.rc_context(TINY_FONTS), pytest.warns(plotting.SmallTextWarning):
        plot_pc1_histogram(result, tmp_path / "histogram.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error", plotting.SmallTextWarning)
        plot_kernel_slices(weight, 0, tmp_path / "long.png", title="layer " + "very_long_block_name." * 12)
        plot_pc1_histogram(result, tmp_path / "long_histogram.png", title="/tmp/" + "run_folder/" * 12 + "best.pt")
    for name in ("slices", "histogram", "long"):
        with Image.open(tmp_path / f"{name}.png") as image:
            assert image.format == "PNG" and image.width > 0


def test_a_lesson_refuses_to_show_a_figure_with_small_text(tmp_path):
    """``blueprint.course.kit.show`` (every lesson figure, also those the library draws) is strict."""
    small = plotting.figure(3.0)
    small.subplots().set_title("small", fontsize=8)
    with pytest.warns(plotting.SmallTextWarning):
        plotting.save(small, tmp_path / "small.png")
    with pytest.raises(ValueError, match=r"small\.png would show its smallest text"):
        kit.show(tmp_path / "small.png", "a caption")
