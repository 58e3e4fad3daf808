"""Logging that never writes a full CPR number.

``CprMaskingFilter`` rewrites every record that passes a handler: the message after its
arguments are merged, and the text of an attached exception and stack, with anything shaped
like a CPR number masked (DDMMYY-XXXX). It sits on the handlers (not a logger), so records from
every library that reach our handlers are masked too.
"""

from __future__ import annotations

import logging
import os

from hjemmeprove.domain.cpr import mask_cpr_in_text


class CprMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what we can, masked
            message = f"{record.msg} {record.args}"
        record.msg = mask_cpr_in_text(str(message))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_cpr_in_text(record.exc_text)
        record.exc_info = None if record.exc_text else record.exc_info
        if record.stack_info:
            record.stack_info = mask_cpr_in_text(record.stack_info)
        return True


_FILTER = CprMaskingFilter()


def file_handler(path) -> logging.FileHandler:
    """A log file that only its owner can read (0600, created so before the first line), with
    the CPR filter: log lines name requests, and exceptions may carry addresses."""
    from hjemmeprove.paths import private_file

    private_file(path)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.addFilter(_FILTER)
    return handler


def install(level: str | int | None = None) -> None:
    """A stderr handler (level from HJEMMEPROVE_LOG, default WARNING) with the CPR filter, and
    the filter on every handler the root logger already has."""
    root = logging.getLogger()
    level = level or os.environ.get("HJEMMEPROVE_LOG", "WARNING")
    if not any(getattr(h, "_hjemmeprove", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler._hjemmeprove = True
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else str(level).upper())
    for handler in root.handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
