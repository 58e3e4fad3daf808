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


def build_parser() -> argparse.ArgumentParser:
    from hjemmeprove.cli.args import DanishArgumentParser

    parser = DanishArgumentParser(
        prog="hjemmeprove",
        description="Blodprøvetagning i eget hjem: henvisninger, ruter, fakturering.")
    parser.add_argument("--db", help="SQLAlchemy-URL (ellers HJEMMEPROVE_DB eller SQLite i "
                        "brugerens datamappe)")
    parser.add_argument("--user", help="brugernavn i revisionssporet (ellers login-navnet)")
    sub = parser.add_subparsers(dest="command", metavar="KOMMANDO")
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("cmd_")):
        importlib.import_module(f"{__name__}.{module}").register(sub)
    return parser


class BadInput(ValidationError):
    pass


def main(argv: list[str] | None = None) -> int:
    from hjemmeprove.logging_setup import install as install_logging
    from hjemmeprove.paths import private_umask

    private_umask()  # every file this command creates is owner-only
    install_logging()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # a bad value (exit 2, Danish message naming it) or --help (0)
        return e.code if isinstance(e.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
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
