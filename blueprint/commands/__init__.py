"""One module per ``blueprint`` subcommand; each defines ``register(subparsers)`` (see ``blueprint.cli``).

The flags that several commands take alike are added here, once.
"""


def add_num_classes(parser) -> None:
    """``--num-classes``, the classifier width of a zoo model, for every command that builds one by name."""
    parser.add_argument(
        "--num-classes",
        type=int,
        default=None,
        help="classes of a zoo model (default: the name's own: 10 for cifar_* and digits_* names, else 1000)",
    )
