"""``blueprint export MODEL --onnx FILE [--fuse]``: a zoo model or a trained checkpoint as an ONNX file.

A checkpoint's input normalization is put inside the graph (the file takes images with intensities in [0, 1])
unless ``--no-normalization``; the input size, class names, mean and std go into the file's metadata
(``blueprint.deployment.METADATA``). torch is imported only when the command runs, so ``blueprint --help`` stays
fast.
"""

from __future__ import annotations

from blueprint.commands import add_num_classes
from blueprint.paths import writable_file


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a zoo model or a `blueprint train` checkpoint to ONNX (optionally fused first)",
        description="Export SOURCE to ONNX with a dynamic batch dimension and check the file in onnxruntime "
        "against PyTorch on a random batch. --fuse folds every BatchNorm into its convolution and merges "
        "BSConv-S's two pointwise steps where that is cheaper (blueprint.fuse) before exporting.",
    )
    p.add_argument(
        "source",
        metavar="MODEL",
        help="a zoo name (see `blueprint models`), package.module:factory or a last.pt/best.pt of `blueprint train`",
    )
    p.add_argument("--onnx", required=True, metavar="FILE", help="the ONNX file to write")
    p.add_argument("--fuse", action="store_true", help="fuse the model first (blueprint.fuse), printing what it did")
    add_num_classes(p)
    p.add_argument(
        "--no-normalization",
        dest="normalization",
        action="store_false",
        help="leave a checkpoint's input normalization out of the graph (it then takes normalized "
        "inputs, as the model in PyTorch does)",
    )
    p.set_defaults(func=run, fields={"source": "MODEL"})


def run(args) -> int:
    writable_file(args.onnx, "--onnx")
    if args.num_classes is not None and args.num_classes < 1:
        raise ValueError(f"num_classes: expected an int >= 1, got {args.num_classes}")
    import torch

    import blueprint
    from blueprint import deployment
    from blueprint.sources import default_input_size, open_source

    source = open_source(args.source, num_classes=args.num_classes)
    if not isinstance(source.obj, torch.nn.Module):
        raise ValueError(
            f"source: {args.source} holds only weights (a state_dict); expected a zoo name or a "
            f"checkpoint of `blueprint train`"
        )
    model = source.obj.eval()
    size = source.input_size or default_input_size(source.name or args.source)
    if args.fuse:
        model = blueprint.fuse(model)
        print(model.fusion_report.table())
    pre = source.preprocessing
    inside = bool(args.normalization and pre and pre.mean is not None)
    graph = deployment.with_normalization(model, pre.mean, pre.std) if inside else model
    metadata = dict(input_size=list(size), normalized_inside=inside)
    if pre is not None:
        metadata.update(
            class_names=pre.classes and list(pre.classes),
            mean=pre.mean and list(pre.mean),
            std=pre.std and list(pre.std),
            resize=pre.resize,
        )
    deployment.export_onnx(graph, args.onnx, size, metadata)
    x = torch.rand(2, *size)
    with torch.no_grad():
        difference = (
            (deployment.run_onnx(deployment.onnx_session(args.onnx, torch.get_num_threads()), x) - graph(x))
            .abs()
            .max()
            .item()
        )
    takes = (
        "images with intensities in [0, 1] (the normalization is inside)"
        if inside
        else "normalized inputs"
        if pre is not None and pre.mean is not None
        else "what the model takes"
    )
    print(
        f"wrote {args.onnx}: input (batch, {', '.join(map(str, size))}), {takes}; onnxruntime agrees with "
        f"PyTorch to {difference:.1e} (max abs difference on a random batch of 2)"
    )
    return 0
