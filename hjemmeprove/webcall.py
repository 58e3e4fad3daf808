"""Calls to the web services a department configures (the route engine, the geocoder, the
SMS gateway): why one failed, in Danish, the same words for each. The message names the
service, never the request's address (its path can hold citizens' coordinates or phone
numbers): it is shown, stored and pasted into support tickets."""

from __future__ import annotations

import socket
import urllib.error


def failure_reason(e: BaseException, timeout: float, service: str) -> str:
    """Why a call to ``service`` ("rutemaskinen", "SMS-gatewayen") failed: an HTTP status,
    an unknown host, a refused connection, no answer within ``timeout`` seconds, an answer
    that is not JSON; else the library's own words (for the IT department)."""
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP-status {e.code} ({e.reason})"
    reason = e.reason if isinstance(e, urllib.error.URLError) else e
    if isinstance(reason, socket.gaierror):
        return f"værtsnavnet kendes ikke ({reason})"
    if isinstance(reason, ConnectionRefusedError):
        return f"forbindelsen blev afvist (kører {service}, og er porten rigtig?)"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"intet svar inden for {timeout:g} sekunder"
    if isinstance(e, ValueError):
        return "svaret er ikke JSON"
    return f"ingen forbindelse ({type(reason).__name__}: {reason})"
