"""The ``blueprint`` command line.

Each subcommand lives in its own module under ``blueprint/commands/`` and defines ``register(subparsers)``,
which adds its parser and sets ``func`` to a callable taking the parsed arguments and returning an exit code.
The command modules import torch, Numba and the library inside ``func``, so ``--help`` and argument errors
answer without loading them.

Every failure is one line on stderr, ``blueprint CMD: error: ...``, and no traceback (a traceback means a bug):

- bad arguments, from argparse or from the library (``ValueError``, ``FileNotFoundError``):
  exit 2. The library names its fields and arguments (``lr: expected ...``); ``in_flags`` writes them as the
  command's flags (``--lr: expected ...``), here and nowhere else;
- a run that cannot go on (``FloatingPointError``, such as ``blueprint.training.TrainingError``: a non-finite
  loss or weight), an ``OSError`` (a full disk, a folder that cannot be written) or an ``ImportError`` (an
  optional package missing, told with its install line): exit 1;
- Ctrl-C or SIGTERM: exit 130 or 143, with what was kept and how to resume where the library says so.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import signal
import sys
import threading

import blueprint
import blueprint.commands as commands


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (argparse's own would print the whole usage first)."""

    def error(self, message: str):
        message = re.sub(r"^argument (\S+?)(/\S+)?: ", r"\1: ", message)
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def flags_of(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Destination -> flag of every option of ``parser`` (``lr`` -> ``--lr``), plus the parser's ``fields``
    default (a command's own field -> flag aliases)."""
    flags = {a.dest: a.option_strings[0] for a in parser._actions if a.option_strings and a.dest != "help"}
    return {**flags, **(parser.get_default("fields") or {})}


def in_flags(message: str, flags: dict[str, str]) -> str:
    """A library message in command-line words: the leading ``name:`` and each ``name``, ``name=True`` or
    ``name=value`` in backticks become ``--flag:``, ``--flag`` and ``--flag value`` where ``name`` is in ``flags``."""

    def lead(match):
        return f"{flags.get(match[1], match[1])}:"

    def quoted(match):
        name, value = match[1], match[3]
        if name not in flags:
            return match[0]
        if value is None or value == "True":
            return flags[name]
        return f"{flags[name]} {value.strip(chr(39) + chr(34))}"

    message = re.sub(r"^(\w+):", lead, message)
    return re.sub(r"`(\w+)(=([^`]*))?`", quoted, message)


def _leaf_flags(parser: argparse.ArgumentParser) -> None:
    """Give every parser that runs a command (it has ``func``) its ``flags_of`` as the ``flags`` default."""
    if parser.get_default("func") is not None:
        parser.set_defaults(flags=flags_of(parser))
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _leaf_flags(child)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="blueprint", description="Blueprint Separable Convolutions (BSConv).")
    parser.add_argument("--version", action="version", version=f"blueprint {blueprint.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"blueprint.commands.{info.name}")
        module.register(sub)
    _leaf_flags(parser)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (what schedulers and torchrun send to stop a job), raised where Ctrl-C would be."""


def _terminate(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def fail(err: BaseException, code: int) -> int:
        text = in_flags(str(err) or type(err).__name__, args.flags)
        print(f"blueprint {args.command}: error: {text}", file=sys.stderr)
        return code

    in_main_thread = threading.current_thread() is threading.main_thread()  # only there can a handler be set
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return int(args.func(args) or 0)
    except FloatingPointError as err:
        return fail(err, 1)
    except (ValueError, FileNotFoundError) as err:
        return fail(err, 2)
    except (OSError, ImportError) as err:
        return fail(err, 1)
    except KeyboardInterrupt as err:
        how = "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted"
        told = in_flags(str(err), args.flags)
        print(f"blueprint {args.command}: {how}" + (f"; {told}" if told else ""), file=sys.stderr)
        return 143 if isinstance(err, Terminated) else 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
