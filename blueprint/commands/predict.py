"""``blueprint predict MODEL IMAGES...``: the top-k classes of images, from a checkpoint or its ONNX file."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="the most probable classes of image files, from a `blueprint train` checkpoint or its ONNX file",
        description="Reads each image as the model was trained on it (the checkpoint's input size, mean and std, "
        "or the metadata of a file written by `blueprint export`) and prints its top-k classes with "
        "probabilities (blueprint.prediction).",
    )
    p.add_argument(
        "source",
        metavar="MODEL",
        help="a last.pt/best.pt of `blueprint train`, or an .onnx file written from one by `blueprint export`",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    p.add_argument("--top", type=int, default=3, help="classes shown per image (default: %(default)s)")
    p.set_defaults(func=run, fields={"source": "MODEL"})


def run(args) -> int:
    from blueprint.prediction import open_predictor, top_k

    predictor = open_predictor(args.source)
    for path, best in zip(args.images, top_k(predictor, args.images, args.top)):
        print(f"{path}: " + ", ".join(f"{name} {p:.2%}" for name, p in best))
    return 0
