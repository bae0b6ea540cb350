"""Items 7 and 8 of "A practitioner's week": the preprocessing travels with the model (checkpoint, ONNX, predict),
and ``profile`` takes a checkpoint's input size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from blueprint.cli import main
from blueprint.deployment import onnx_metadata, onnx_session, run_onnx
from blueprint.training.checkpoint import read_checkpoint
from blueprint.training.digits import load_digits


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("predict")
    argv = ["train", "--model", "digits_cnn", "--dataset", "digits", "--epochs", "2", "--output-dir", str(out / "run")]
    assert main(argv) == 0
    assert main(["export", str(out / "run" / "last.pt"), "--onnx", str(out / "digits.onnx")]) == 0
    return out


def test_the_checkpoint_records_input_size_mean_std_and_class_names(digits_run):
    pre = read_checkpoint(str(digits_run / "run" / "last.pt")).preprocessing
    data = load_digits()
    pixels = data.x_train.double() / 16
    assert pre.input_size == (1, 8, 8) and pre.classes == tuple("0123456789")
    assert pre.mean == pytest.approx([pixels.mean().item()])
    assert pre.std == pytest.approx([pixels.std().item()], rel=1e-3)


def test_onnx_on_raw_images_scores_what_evaluate_reports(digits_run, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(digits_run / "run" / "last.pt")]) == 0
    reported = capsys.readouterr().out.split("accuracy ")[1].strip()
    session = onnx_session(str(digits_run / "digits.onnx"), 1)
    meta = onnx_metadata(session)
    assert meta["input_size"] == [1, 8, 8] and meta["class_names"] == list("0123456789") and meta["normalized_inside"]
    data = load_digits()
    predicted = run_onnx(session, data.x_test.float() / 16).argmax(1)  # intensities in [0, 1], nothing else
    assert f"{(predicted == data.y_test).double().mean().item():.2%}" == reported


def test_predict_gives_the_same_top_classes_from_the_checkpoint_and_its_onnx_file(digits_run, capsys):
    data = load_digits()
    images = []
    for i in range(4):
        path = digits_run / f"digit{i}.png"
        Image.fromarray((data.x_test[i, 0].numpy() * 255 // 16).astype(np.uint8)).save(path)
        images.append(str(path))
    capsys.readouterr()
    assert main(["predict", str(digits_run / "run" / "last.pt"), *images, "--top", "2"]) == 0
    from_checkpoint = capsys.readouterr().out.splitlines()
    assert main(["predict", str(digits_run / "digits.onnx"), *images, "--top", "2"]) == 0
    from_onnx = capsys.readouterr().out.splitlines()
    assert len(from_checkpoint) == 4 and from_checkpoint[0].startswith(f"{images[0]}: ")
    assert [line.split(": ")[1].split(" ")[0] for line in from_checkpoint] == [
        line.split(": ")[1].split(" ")[0] for line in from_onnx
    ]
    assert from_checkpoint == from_onnx  # the same probabilities to the printed 0.01 %


def test_export_without_normalization_takes_normalized_inputs(digits_run):
    onnx = digits_run / "raw.onnx"
    assert main(["export", str(digits_run / "run" / "last.pt"), "--onnx", str(onnx), "--no-normalization"]) == 0
    session = onnx_session(str(onnx), 1)
    assert onnx_metadata(session)["normalized_inside"] is False
    x = torch.rand(2, 1, 8, 8)
    pre = read_checkpoint(str(digits_run / "run" / "last.pt")).preprocessing
    baked = run_onnx(onnx_session(str(digits_run / "digits.onnx"), 1), x)
    assert torch.allclose(run_onnx(session, (x - pre.mean[0]) / pre.std[0]), baked, atol=1e-5)


def test_profile_of_a_checkpoint_uses_its_input_size(digits_run, capsys):
    capsys.readouterr()
    assert main(["profile", str(digits_run / "run" / "last.pt"), "--summary"]) == 0
    assert "input 1x8x8, 65,834 parameters, 1.49 MFLOPs" in capsys.readouterr().out


def test_a_checkpoint_from_before_the_preprocessing_was_recorded_still_evaluates_resumes_and_exports(
    digits_run, tmp_path, capsys
):
    old = torch.load(digits_run / "run" / "last.pt", weights_only=True)
    for key in ("mean", "std", "class_names"):
        del old[key]
    old["scheduler"] = {"last_epoch": 2}  # what a run wrote when the schedule was a torch scheduler
    (tmp_path / "run").mkdir()
    torch.save(old, tmp_path / "run" / "last.pt")
    (tmp_path / "run" / "config.json").write_text((digits_run / "run" / "config.json").read_text())
    assert read_checkpoint(str(tmp_path / "run" / "last.pt")).preprocessing.mean is None
    assert main(["evaluate", str(tmp_path / "run" / "last.pt")]) == 0
    assert main(["export", str(tmp_path / "run" / "last.pt"), "--onnx", str(tmp_path / "old.onnx")]) == 0
    assert "normalized inputs" not in capsys.readouterr().out
    assert onnx_metadata(onnx_session(str(tmp_path / "old.onnx"), 1))["normalized_inside"] is False
    assert main(["predict", str(tmp_path / "run" / "last.pt"), str(tmp_path / "old.onnx")]) == 2
    assert "records no input normalization" in capsys.readouterr().err
    assert main(["train", "--resume", "--output-dir", str(tmp_path / "run"), "--epochs", "3"]) == 0
