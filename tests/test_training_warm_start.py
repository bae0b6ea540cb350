"""``blueprint train --init-from --distill-from`` and ``blueprint convert`` on digits: what the run records, exact
resume, the teacher's batches, and bad inputs answered in one line (``blueprint.training.from_trained``)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from blueprint.cli import main
from blueprint.layers import BSConvU
from blueprint.models import create
from blueprint.training import load_checkpoint, recipe
from blueprint.training.digits import load_digits
from blueprint.training.loop import fit
from tests.training_data import torchrun_train


def train(out, *extra):
    return main(["train", "--dataset", "digits", "--output-dir", str(out), *extra])


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A digits_cnn trained for one epoch: the baseline and teacher of the runs below."""
    out = tmp_path_factory.mktemp("baseline")
    assert train(out, "--model", "digits_cnn", "--epochs", "1") == 0
    return out / "last.pt"


def distilled(out, baseline, epochs, *extra):
    return train(
        out,
        "--model",
        "digits_cnn_bsconvu",
        "--epochs",
        str(epochs),
        "--init-from",
        str(baseline),
        "--distill-from",
        str(baseline),
        *extra,
    )


def test_a_distilled_run_from_a_baseline_says_so_and_records_both(tmp_path, baseline, capsys):
    assert distilled(tmp_path / "run", baseline, 1, "--amp") == 0  # bfloat16 autocast on the CPU, teacher included
    header = capsys.readouterr().out.splitlines()[0]
    assert f"initialized from {baseline} (digits_cnn, epoch 1" in header and "by SVD conversion" in header
    assert f"distilling from {baseline}" in header and "T 4, weight 0.9" in header
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["init_from"] == str(baseline) and config["distill_from"] == str(baseline)
    record = json.loads((tmp_path / "run" / "warm_start.json").read_text())
    assert record["distill_from"]["model_name"] == "digits_cnn" and len(record["distill_from"]["sha256"]) == 64
    assert record["init_from"]["sha256"] == record["distill_from"]["sha256"]
    report = (tmp_path / "run" / "conversion.txt").read_text()
    assert "convert to bsconv_u, init=svd: 4 layers" in report and "features.4.conv" in report
    ckpt = load_checkpoint(str(tmp_path / "run" / "last.pt"))
    assert ckpt["model_name"] == "digits_cnn_bsconvu"
    create("digits_cnn_bsconvu").load_state_dict(ckpt["model"])  # the zoo model of its name, strictly
    assert main(["evaluate", str(tmp_path / "run" / "last.pt")]) == 0


def test_resume_of_a_distilled_run_equals_an_uninterrupted_one(tmp_path, baseline):
    step = ("--schedule", "step", "--milestones", "1")  # the same lr schedule whether the run plans 1 or 2 epochs
    assert distilled(tmp_path / "straight", baseline, 2, *step) == 0
    assert distilled(tmp_path / "resumed", baseline, 1, *step) == 0
    assert train(tmp_path / "resumed", "--resume", "--epochs", "2") == 0
    a, b = (load_checkpoint(str(tmp_path / run / "last.pt")) for run in ("straight", "resumed"))
    assert a["epoch"] == b["epoch"] == 2
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["history"][-1]["train_loss"] == b["history"][-1]["train_loss"]


def test_torchrun_two_processes_start_from_the_baseline_and_distill(tmp_path, baseline):
    out = torchrun_train(
        *("--dataset", "digits", "--model", "digits_cnn_bsconvs_p1d4", "--epochs", "1"),
        *("--init-from", str(baseline), "--distill-from", str(baseline), "--output-dir", str(tmp_path / "run")),
    )
    assert "2 process(es)" in out and "initialized from" in out and "distilling from" in out
    assert load_checkpoint(str(tmp_path / "run" / "last.pt"))["model_name"] == "digits_cnn_bsconvs_p1d4"


def test_the_teacher_sees_the_students_augmented_batches(tmp_path, baseline):
    from blueprint.training.data import make_loader
    from blueprint.training.trained import load_trained

    teacher, _ = load_trained(str(baseline), "teacher")
    seen = []
    teacher.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].clone()))
    config = recipe("digits", model="digits_cnn_bsconvu", epochs=1, output_dir=str(tmp_path / "run"))
    fit(config, init_from=teacher, teacher=teacher, log=lambda _: None)  # modules, as a Python user has them
    batches = [x for x, _ in make_loader(config, "cpu").train_batches(0)]
    assert len(seen) == 1 + len(batches)  # the class-count check, then one call per training step
    assert not any(isinstance(m, BSConvU) for m in teacher.modules())  # converted a copy, not the teacher
    assert all(torch.equal(s, x) for s, x in zip(seen[1:], batches))
    assert not teacher.training


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_bad_inputs_are_one_line_each(tmp_path, baseline, capsys):
    capsys.readouterr()
    with pytest.raises(SystemExit) as parsed:  # argparse's own exit
        train(tmp_path / "a", "--model", "digits_cnn_bsconvu", "--epochs", "1", "--distill-from")
    assert parsed.value.code == 2
    assert "--distill-from: expected one argument" in one_line_error(capsys)
    assert train(tmp_path / "b", "--model", "digits_cnn_bsconvu", "--distill-from", str(tmp_path / "no.pt")) == 2
    assert one_line_error(capsys).startswith(f"blueprint train: error: --distill-from: no file {tmp_path / 'no.pt'}")

    variant = tmp_path / "variant.pt"  # a checkpoint of another architecture than the baseline of --model
    torch.save(
        dict(model=create("digits_cnn_bsconvu").state_dict(), model_name="digits_cnn_bsconvu", num_classes=10), variant
    )
    assert train(tmp_path / "c", "--model", "digits_cnn_bsconvs_p1d4", "--init-from", str(variant)) == 2
    line = one_line_error(capsys)
    assert (
        "--init-from:" in line and "holds a digits_cnn_bsconvu checkpoint; expected a checkpoint of digits_cnn" in line
    )

    three = tmp_path / "three_classes.pt"
    torch.save(
        dict(model=create("digits_cnn", num_classes=3).state_dict(), model_name="digits_cnn", num_classes=3), three
    )
    assert train(tmp_path / "d", "--model", "digits_cnn_bsconvu", "--distill-from", str(three)) == 2
    line = one_line_error(capsys)
    assert "--distill-from: the teacher" in line and "expected 10 classes" in line
    assert train(tmp_path / "e", "--model", "digits_cnn", "--init-from", str(baseline)) == 2
    assert "--model: digits_cnn is a baseline; expected a BSConv-U or BSConv-S variant" in one_line_error(capsys)
    assert not any((tmp_path / run).exists() for run in "bcde")  # refused before anything was written


def test_a_resumed_run_refuses_a_teacher_file_that_changed(tmp_path, baseline, capsys):
    teacher = tmp_path / "teacher.pt"
    teacher.write_bytes(baseline.read_bytes())
    assert (
        train(tmp_path / "run", "--model", "digits_cnn_bsconvu", "--epochs", "1", "--distill-from", str(teacher)) == 0
    )
    torch.save(dict(model=create("digits_cnn").state_dict(), model_name="digits_cnn", num_classes=10), teacher)
    capsys.readouterr()
    assert train(tmp_path / "run", "--resume", "--epochs", "2") == 2
    line = one_line_error(capsys)
    assert (
        line.startswith("blueprint train: error: --distill-from: ") and "is not the teacher the run began with" in line
    )


def test_convert_writes_a_checkpoint_of_the_zoo_variant_that_evaluate_reads(tmp_path, baseline, capsys):
    out = tmp_path / "converted.pt"
    assert main(["convert", str(baseline), "--to", "bsconv_s", "--p", "0.25", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "-> digits_cnn_bsconvs_p1d4" in printed and "after BatchNorm recalibration" in printed
    assert "convert to bsconv_s, init=svd: 4 layers" in printed
    assert main(["evaluate", str(out)]) == 0
    assert "digits_cnn_bsconvs_p1d4 after epoch 0" in capsys.readouterr().out
    assert main(["convert", str(baseline), "--to", "bsconv_s", "--p", "0.3", "--output", str(out)]) == 2
    assert "--to: the zoo has no digits_cnn_bsconvs_p3d10" in one_line_error(capsys)


def test_a_distilled_checkpoint_evaluates_exports_and_predicts_as_its_zoo_model(tmp_path, baseline, capsys):
    """The run's last.pt is a checkpoint of digits_cnn_bsconvu: evaluate, export --onnx and predict take it as is."""
    assert distilled(tmp_path / "run", baseline, 1) == 0
    ckpt = tmp_path / "run" / "last.pt"
    capsys.readouterr()
    assert main(["evaluate", str(ckpt)]) == 0
    assert "digits_cnn_bsconvu after epoch 1" in capsys.readouterr().out
    assert main(["export", str(ckpt), "--onnx", str(tmp_path / "m.onnx"), "--fuse"]) == 0
    image = tmp_path / "digit.png"
    Image.fromarray((load_digits().x_test[0, 0].numpy() * 255 // 16).astype(np.uint8)).save(image)
    capsys.readouterr()
    assert main(["predict", str(ckpt), str(image)]) == 0
    from_checkpoint = capsys.readouterr().out
    assert main(["predict", str(tmp_path / "m.onnx"), str(image)]) == 0
    assert capsys.readouterr().out == from_checkpoint and from_checkpoint.startswith(f"{image}: ")
