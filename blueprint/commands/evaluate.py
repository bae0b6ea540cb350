"""``blueprint evaluate MODEL``: test loss and accuracy of a ``blueprint train`` checkpoint."""

from __future__ import annotations

import dataclasses


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="test loss and accuracy of a checkpoint written by `blueprint train`",
        description="Evaluates a last.pt or best.pt on the test split of the data set it was trained on "
        "(the run's configuration is stored in the checkpoint).",
    )
    p.add_argument("source", metavar="MODEL", help="a last.pt or best.pt of `blueprint train`")
    p.add_argument("--data-dir", help="where the data set is now (default: the one the run used)")
    p.add_argument("--model", help="load the weights into this zoo model instead of the one the run trained")
    p.add_argument(
        "--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto, a GPU when PyTorch sees one)"
    )
    p.add_argument("--batch-size", type=int, help="evaluation batch size (default: the run's)")
    p.add_argument("--amp", action="store_true", help="mixed precision")
    p.set_defaults(func=run, fields={"source": "MODEL", "checkpoint": "MODEL"})


def run(args) -> int:
    import torch

    from blueprint.sources import open_checkpoint
    from blueprint.training import TrainConfig, evaluate, recipe
    from blueprint.training.data import make_loader
    from blueprint.training.devices import resolve

    source = open_checkpoint(args.source, model=args.model)
    ckpt = source.checkpoint
    if "dataset" not in ckpt.config:
        raise ValueError(
            f"checkpoint: {args.source} is not a checkpoint of `blueprint train` with its run "
            f"configuration; expected a last.pt or best.pt"
        )
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    saved = {k: v for k, v in ckpt.config.items() if k in fields}
    # evaluation runs the layers on torch's kernels wherever the run trained (also a --backend accel run)
    overrides = {
        "data_dir": args.data_dir,
        "model": source.name,
        "device": args.device,
        "batch_size": args.batch_size,
        "download": False,
        "backend": "torch",
        "compile": False,
    }
    config = recipe(saved.pop("dataset"), **{**saved, **{k: v for k, v in overrides.items() if v is not None}})
    device = resolve(config.device)
    classes = ckpt.preprocessing.classes if ckpt.preprocessing else None
    loader = make_loader(config, device, classes=classes)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    loss, acc = evaluate(source.obj.to(device, memory_format=memory_format), loader, device, args.amp)
    print(
        f"{args.source}: {config.model} after epoch {ckpt.epoch} on {config.dataset} "
        f"({loader.num_test} test images): loss {loss:.4f}, accuracy {acc:.2%}"
    )
    return 0
