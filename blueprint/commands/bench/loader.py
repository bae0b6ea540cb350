"""``blueprint bench loader``: images/s per worker of the ImageFolder pipeline (``blueprint.benchmarks.loader``)."""

from __future__ import annotations

import os

from blueprint.commands.bench.arguments import names, positive, size_pair

RECIPES = ("imagenet", "finegrained")  # blueprint.benchmarks.loader.RECIPES, here so that parsing needs no torch


def run(args) -> int:
    chosen = names(RECIPES, "--recipes")(args.recipes)
    size = size_pair(args.size)
    positive("--images", args.images)
    positive("--rounds", args.rounds)
    if args.data_dir is not None and not os.path.isdir(os.path.join(args.data_dir, "train")):
        raise ValueError(f"--data-dir: no folder {os.path.join(args.data_dir, 'train')} (expected train/ and val/)")
    if args.quick:
        size, images, rounds = (96, 72), 4, 1
    else:
        images, rounds = args.images, args.rounds
    from blueprint.benchmarks import loader as bench

    source = args.data_dir or f"{images} synthetic {size[0]}x{size[1]} JPEGs per split"
    print(f"ImageFolder loading, one worker (this process): {source}, median of {rounds} pass(es)", flush=True)
    rows = bench.run(args.data_dir, chosen, images, size, rounds)
    print(bench.format_rows(rows))
    return 0


def add(modes) -> None:
    p = modes.add_parser(
        "loader",
        help="images/s per data-loading worker of the ImageFolder pipeline, for each recipe",
        description="Decode and augment ImageFolder images as one loader worker does, for the training transform of "
        "each recipe (imagenet: random-resized crops, flips, color jitter; finegrained: resize, random crops, flips, "
        "random gamma) and the evaluation transform; prints images/s per worker and that times the default number "
        "of workers. Without --data-dir, synthetic JPEGs of --size are written to a temporary folder.",
    )
    p.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated, default %(default)s")
    p.add_argument("--data-dir", help="an ImageFolder tree (train/, val/) to read instead of synthetic JPEGs")
    p.add_argument("--images", type=int, default=64, help="images per split (default: %(default)s)")
    p.add_argument(
        "--size",
        default="500x375",
        help="synthetic images' WIDTHxHEIGHT (default: %(default)s, ImageNet's most common size)",
    )
    p.add_argument("--rounds", type=int, default=3, help="passes over the images; the median is reported")
    p.add_argument("--quick", action="store_true", help="four small images, one pass (a smoke run)")
    p.set_defaults(func=run)
