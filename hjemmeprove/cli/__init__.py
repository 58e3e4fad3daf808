"""The ``hjemmeprove`` command: the program's stable, scriptable face (docs/cli.md).

Each ``cmd_*.py`` module here adds its commands with ``register(subparsers)``; they are found
by name, so adding a command touches no other file. Errors go to stderr naming the field;
exit status 2 for bad input, 1 for anything else.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from hjemmeprove.domain.cpr import mask_cpr_in_text
from hjemmeprove.errors import HjemmeproveError, ValidationError

log = logging.getLogger("hjemmeprove")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser: every command, or with ``command`` only that one built in
    full (``_OnlyCommand``); the whole tree when no module registers ``command``."""
    from hjemmeprove.cli.args import DanishArgumentParser

    parser = DanishArgumentParser(
        prog="hjemmeprove",
        description="Blodprøvetagning i eget hjem: henvisninger, ruter, fakturering.")
    parser.add_argument("--db", help="SQLAlchemy-URL (ellers HJEMMEPROVE_DB eller SQLite i "
                        "brugerens datamappe)")
    parser.add_argument("--user", help="brugernavn i revisionssporet (ellers login-navnet)")
    sub = parser.add_subparsers(dest="command", metavar="KOMMANDO")
    target = sub if command is None else _OnlyCommand(sub, command)
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("cmd_")):
        importlib.import_module(f"{__name__}.{module}").register(target)
    if command is not None and command not in sub.choices:
        return build_parser()  # a typo or a new name: argparse's own message over every command
    return parser


class _OnlyCommand:
    """The subparsers as the command modules see them when the command line names its
    command: that command's parser is built in full, every other ``add_parser`` gets a
    stand-in that drops what the module adds to it. argparse made ~85 parsers for the whole
    tree (a third of what ``calendar deadline`` cost); a command needs only its own. Help
    and usage of the named command are argparse's as before; ``--help`` on its own, and a
    line without a known command, get the whole tree (``main``)."""

    def __init__(self, sub, command: str):
        self._sub, self.command, self.skipped = sub, command, set()

    @property
    def choices(self):
        return self._sub.choices

    def add_parser(self, name, **kwargs):
        if name == self.command or self.command in kwargs.get("aliases", ()):
            return self._sub.add_parser(name, **kwargs)
        self.skipped.add(name)
        return _Dropped()


class _Dropped:
    """A skipped command's parser: every call (add_argument, add_subparsers, add_parser,
    set_defaults, groups) is accepted and returns another stand-in."""

    def __getattr__(self, _name):
        return lambda *args, **kwargs: self


def existing_command(sub, name: str):
    """The parser of a command another module registered (to add a subcommand to it); None
    when this run skips that command (``_OnlyCommand``). Raises when no module made it."""
    parser = sub.choices.get(name)
    if parser is None and name not in getattr(sub, "skipped", ()):
        raise RuntimeError(f"kommandoen '{name}' findes ikke")
    return parser


def _named_command(argv: list[str]) -> str | None:
    """The command a line names, read past the global options; None when anything else comes
    first (``--help``, an abbreviated option): then the whole parser is built."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--db", "--user"):
            i += 2
        elif arg.startswith(("--db=", "--user=")):
            i += 1
        elif arg.startswith("-"):
            return None
        else:
            return arg
    return None


class BadInput(ValidationError):
    pass


def main(argv: list[str] | None = None) -> int:
    from hjemmeprove.logging_setup import install as install_logging
    from hjemmeprove.paths import private_umask

    private_umask()  # every file this command creates is owner-only
    install_logging()
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(_named_command(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # a bad value (exit 2, Danish message naming it) or --help (0)
        return e.code if isinstance(e.code, int) else 2
    if not getattr(args, "func", None):
        build_parser().print_help()  # every command, whichever was named
        return 2
    try:
        result = args.func(args)
        return int(result or 0)
    except ValidationError as e:
        for err in e.errors:
            print(f"fejl: {mask_cpr_in_text(str(err))}", file=sys.stderr)
        return 2
    except HjemmeproveError as e:
        print(f"fejl: {mask_cpr_in_text(str(e))}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into head: not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("afbrudt", file=sys.stderr)
        return 1
    except Exception as e:  # never a bare traceback with personal data to the terminal
        from hjemmeprove.db.store import conflict_message

        conflict = conflict_message(e)
        if conflict is not None:  # two users at once: say what to do, exit 1
            log.info("konflikt: %s: %s", type(e).__name__, mask_cpr_in_text(str(e)))
            print(f"fejl: {conflict}", file=sys.stderr)
            return 1
        log.exception("uventet fejl")
        print(f"uventet fejl: {type(e).__name__}: {mask_cpr_in_text(str(e))}", file=sys.stderr)
        return 1


def open_app(args, upgrade: bool = True):
    from hjemmeprove.app import App

    return App(args.db, user=args.user, upgrade=upgrade)
