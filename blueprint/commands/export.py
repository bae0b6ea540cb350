"""``blueprint export SOURCE --onnx FILE [--fuse]``: a zoo model or a trained checkpoint as an ONNX file.

torch is imported only when the command runs, so ``blueprint --help`` stays fast.
"""
from __future__ import annotations

import os

from blueprint.paths import writable_file


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a zoo model or a `blueprint train` checkpoint to ONNX (optionally fused first)",
        description="Export SOURCE to ONNX with a dynamic batch dimension and check the file in onnxruntime "
        "against PyTorch on a random batch. --fuse folds every BatchNorm into its convolution and merges "
        "BSConv-S's two pointwise steps where that is cheaper (blueprint.fuse) before exporting.",
    )
    p.add_argument("source", help="a zoo name (see `blueprint models`) or a last.pt/best.pt of `blueprint train`")
    p.add_argument("--onnx", required=True, metavar="FILE", help="the ONNX file to write")
    p.add_argument("--fuse", action="store_true", help="fuse the model first (blueprint.fuse), printing what it did")
    p.add_argument("--num-classes", type=int, help="classes of a zoo model (default: the zoo's for the name)")
    p.set_defaults(func=run)


def load(source: str, num_classes: int | None):
    """The eval-mode model and its (C, H, W) for a zoo name or a `blueprint train` checkpoint."""
    from blueprint.models import create, input_size, list_models
    from blueprint.names import unknown_name_error

    if num_classes is not None and num_classes < 1:
        raise ValueError(f"--num-classes: expected an int >= 1, got {num_classes}")
    if os.path.isfile(source):
        from blueprint.training import load_checkpoint
        from blueprint.training.checkpoint import load_weights

        ckpt = load_checkpoint(source)
        name = ckpt.get("model_name")
        if name not in list_models():
            raise ValueError(f"SOURCE: {source} names no zoo model (model_name {name!r})")
        model = create(name, num_classes=ckpt.get("num_classes") or num_classes)
        load_weights(model, ckpt["model"], f"checkpoint {source} (a {name} checkpoint)")
        return model.eval(), tuple(ckpt.get("input_size") or input_size(name))
    if os.sep in source or source.endswith((".pt", ".pth")):
        raise FileNotFoundError(f"SOURCE: no checkpoint file {source!r}")
    if source not in list_models():
        raise ValueError(unknown_name_error("SOURCE", source, list_models()))
    return create(source, num_classes=num_classes).eval(), input_size(source)


def run(args) -> int:
    writable_file(args.onnx, "--onnx")
    model, size = load(args.source, args.num_classes)
    import torch

    import blueprint
    from blueprint import deployment

    if args.fuse:
        model = blueprint.fuse(model)
        print(model.fusion_report.table())
    deployment.export_onnx(model, args.onnx, size)
    x = torch.randn(2, *size)
    with torch.no_grad():
        difference = (deployment.run_onnx(deployment.onnx_session(args.onnx, torch.get_num_threads()), x)
                      - model(x)).abs().max().item()  # fmt: skip
    print(f"wrote {args.onnx}: input (batch, {', '.join(map(str, size))}); onnxruntime agrees with PyTorch "
          f"to {difference:.1e} (max abs difference on a random batch of 2)")  # fmt: skip
    return 0
