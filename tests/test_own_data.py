"""Items 5 and 6 and "your own data" of "A practitioner's week": ``--dataset folder``, nested class folders, empty
classes, 16-bit and palette images, ``evaluate`` from ``val/`` alone, an absolute ``data_dir`` in the config."""

from __future__ import annotations

import json
import shutil

import numpy as np
from PIL import Image

from blueprint.cli import main
from blueprint.training import TrainConfig
from blueprint.training.folder_data import FolderLoader, decode
from tests.training_data import folder_args, write_image_folder


def folder_run(data, out, *extra) -> int:
    return main(list(folder_args("folder", data, out, *extra)))


def test_images_in_nested_class_folders_are_all_read(tmp_path):
    root = write_image_folder(tmp_path, per_class=4)
    nested = root / "train" / "dog" / "sub" / "deeper"
    nested.mkdir(parents=True)
    for i in range(3):
        shutil.copy(root / "train" / "dog" / "0.png", nested / f"extra{i}.png")
    loader = FolderLoader(TrainConfig(dataset="folder", data_dir=str(root), resize=8, crop=8, workers=0), "cpu", 4)
    assert (loader.num_train, loader.classes) == (4 + 4 + 3, ("cat", "dog"))


def test_an_empty_class_folder_is_refused_in_one_line_naming_it(tmp_path, capsys):
    root = write_image_folder(tmp_path / "data")
    (root / "train" / "fox" / "sub").mkdir(parents=True)
    (root / "train" / "fox" / "notes.txt").write_text("no images here")
    assert folder_run(root, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("blueprint train: error: --data-dir: the class folder fox of ")


def test_16_bit_and_palette_images_keep_their_intensities(tmp_path):
    ramp = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    Image.fromarray(ramp).save(tmp_path / "wide.png")  # 16-bit grayscale PNG
    assert Image.open(tmp_path / "wide.png").mode.startswith("I")
    img, _ = decode(str(tmp_path / "wide.png"), lambda w, h: (0, 0, w, h), 8)
    pixels = np.asarray(img)[..., 0]
    assert np.abs(pixels.astype(int) - np.round(ramp / 257)).max() <= 1 and len(np.unique(pixels)) == 64
    gray = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) * 4)
    gray.convert("RGB").convert("P", palette=Image.ADAPTIVE, colors=64).save(tmp_path / "palette.png")
    img, _ = decode(str(tmp_path / "palette.png"), lambda w, h: (0, 0, w, h), 8)
    assert np.abs(np.asarray(img)[..., 1].astype(int) - np.asarray(gray)).max() <= 4


def test_folder_run_prints_its_recipe_stores_an_absolute_data_dir_and_evaluates_from_val_alone(
    tmp_path, capsys, monkeypatch
):
    root = write_image_folder(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    assert folder_run("data", tmp_path / "run") == 0
    assert "folder recipe: epochs 30" in capsys.readouterr().out
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data_dir"] == str(root)
    shutil.rmtree(root / "train")  # evaluation needs only val/, from another folder
    monkeypatch.chdir(tmp_path / "run")
    assert main(["evaluate", "last.pt"]) == 0
    assert "(4 test images)" in capsys.readouterr().out


def test_predict_on_the_val_images_of_a_folder_run_scores_what_evaluate_reports(tmp_path, capsys):
    root = write_image_folder(tmp_path / "data", per_class=8, size=(20, 14))
    assert folder_run(root, tmp_path / "run", "--resize", "10") == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run" / "last.pt")]) == 0
    reported = capsys.readouterr().out.split("accuracy ")[1].strip()
    images = sorted((root / "val").glob("*/*.png"))
    assert main(["predict", str(tmp_path / "run" / "last.pt"), *map(str, images), "--top", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    right = [line.split(": ")[1].split(" ")[0] == image.parent.name for line, image in zip(lines, images)]
    assert len(lines) == len(images) == 8 and f"{sum(right) / len(right):.2%}" == reported
