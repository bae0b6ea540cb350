"""``blueprint convert CHECKPOINT --to bsconv_u [--p P] --output FILE``: a trained baseline as its BSConv variant.

Parses and hands over to ``blueprint.training.convert_checkpoint``; prints what was measured and the per-layer
conversion report. torch is imported only when the command runs.
"""

from __future__ import annotations

from blueprint.paths import writable_file


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "convert",
        help="convert a trained baseline checkpoint into its BSConv-U/BSConv-S zoo variant (SVD init)",
        description="Converts the baseline of a `blueprint train` checkpoint into its zoo variant (--to bsconv_u, "
        "or bsconv_s with --p) by SVD from the trained weights, recalibrates BatchNorm on the run's training data "
        "(when the checkpoint names it) and writes a checkpoint of the variant, which `blueprint evaluate` and "
        "`blueprint export` read as the zoo model of its name. To train it with the recipe instead, use "
        "`blueprint train --model VARIANT --init-from CHECKPOINT`.",
    )
    p.add_argument("checkpoint", help="a last.pt or best.pt of a zoo baseline (e.g. digits_cnn, cifar_resnet20)")
    p.add_argument("--to", required=True, choices=("bsconv_u", "bsconv_s"), help="the variant")
    p.add_argument("--p", type=float, help="BSConv-S subspace ratio of the zoo variant, e.g. 0.25")
    p.add_argument("--output", required=True, metavar="FILE", help="where the converted checkpoint is written")
    p.add_argument("--data-dir", help="where the run's data set is now (default: the one the run used)")
    p.add_argument(
        "--no-recalibrate",
        dest="recalibrate",
        action="store_false",
        help="skip the BatchNorm recalibration (and the accuracy measurements)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    writable_file(args.output, "--output")
    from blueprint.training.checkpoint import atomic_save
    from blueprint.training.convert_checkpoint import convert_checkpoint

    converted = convert_checkpoint(args.checkpoint, args.to, args.p, args.data_dir, args.recalibrate)
    print("\n".join(converted.told))
    print(converted.report)
    atomic_save(converted.checkpoint, args.output)
    print(f"wrote {args.output}: a {converted.target} checkpoint")
    return 0
