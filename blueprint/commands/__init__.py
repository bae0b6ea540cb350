"""One module per ``blueprint`` subcommand; each defines ``register(subparsers)`` (see ``blueprint.cli``)."""
