"""The warm-start path at 32x32 with residual blocks: ``cifar_resnet20`` -> ``cifar_resnet20_bsconvu``.

No CIFAR download is needed: scikit-learn's digits are drawn as a CIFAR-10 set (each 8x8 image scaled 4x by
repeating pixels to 32x32, intensities 0..16 to 0..255, the gray copied into three channels) and written in
CIFAR-10's own format, so the run goes through ``blueprint train``'s CIFAR reader and recipe. The baseline is
trained once, then the variant by the three paths of ``warm_start`` (scratch, init, init+distill), with the
CIFAR recipe shortened to a linear schedule over a few epochs (``OVERRIDES``). It shows that the SVD conversion,
the recalibration and the distillation work on a residual network; it measures no CIFAR accuracy.

``python -m blueprint.studies.cifar_shaped`` writes ``docs/measurements/warm_start_cifar_shaped.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile

import numpy as np
import torch

from blueprint.studies.warm_start import study, table, write
from blueprint.training.digits import load_digits

OVERRIDES = dict(batch_size=64, lr=0.05, schedule="linear", milestones=[], flip=False, shift=2, alpha=0.0)


def write_digits_as_cifar10(root: str) -> str:
    """``root/cifar-10-batches-py/`` holding the digits at 32x32x3 (see the module docstring); returns ``root``."""
    data = load_digits()
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder)

    def rows(images: torch.Tensor) -> np.ndarray:
        big = images.numpy().astype(np.float64).repeat(4, axis=2).repeat(4, axis=3)  # B,1,32,32
        rgb = np.round(np.repeat(big, 3, axis=1) * 255.0 / 16.0).astype(np.uint8)  # B,3,32,32
        return rgb.reshape(len(rgb), 3072)

    def dump(name: str, x: np.ndarray, y: torch.Tensor) -> None:
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump({b"data": x, b"labels": y.tolist()}, f, protocol=2)

    x_train = rows(data.x_train)
    for i, part in enumerate(np.array_split(np.arange(len(x_train)), 5), 1):
        dump(f"data_batch_{i}", x_train[part], data.y_train[part])
    dump("test_batch", rows(data.x_test), data.y_test)
    return root


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m blueprint.studies.cifar_shaped", description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--epochs", type=int, default=3, help="epochs of each variant's run")
    p.add_argument("--baseline-epochs", type=int, default=5)
    p.add_argument("--json", default="docs/measurements/warm_start_cifar_shaped.json")
    p.add_argument("--figure", default="docs/measurements/warm_start_cifar_shaped.png")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as workdir:
        data_dir = write_digits_as_cifar10(os.path.join(workdir, "data"))
        document = study(
            "cifar10",
            "cifar_resnet20",
            ["cifar_resnet20_bsconvu"],
            args.seeds,
            args.epochs,
            args.baseline_epochs,
            workdir,
            data_dir=data_dir,
            **OVERRIDES,
        )
    document["overrides"].pop("data_dir")
    document["dataset"] = "digits drawn as CIFAR-10 (32x32x3)"
    document["command"] = "python -m blueprint.studies.cifar_shaped " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    write(
        document,
        args.json,
        args.figure,
        "32x32 digits: cifar_resnet20_bsconvu from a trained cifar_resnet20",
        window=None,
    )
    print(table(document["summary"], args.epochs))
    print(f"wrote {args.json} and {args.figure} ({document['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
