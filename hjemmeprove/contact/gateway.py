"""Sending one SMS through the gateway the department names: one HTTP POST, retried with
back-off. No built-in service: without ``sms.gateway_url`` nothing is sent.

The HTTP client is the standard library's ``urllib.request``: the project has no HTTP
library among its dependencies (httpx is not installed), the distance sources already use
urllib, and one JSON POST with a timeout needs nothing more.

What counts:
- HTTP 2xx: sent; the answer's status (``status_path``, dotted, list indexes as numbers,
  e.g. ``data.0.status``) is stored, and a value in ``delivered_values`` or
  ``failed_values`` makes the message delivered or failed;
- HTTP 5xx, 429, a timeout or a refused connection: tried again after 0.5 s, 1 s, 2 s …
  up to ``max_attempts`` in all, then failed;
- any other HTTP status (400, 401, 404 …): failed at once (sending again would not help).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from hjemmeprove.contact import template
from hjemmeprove.errors import ValidationError
from hjemmeprove.webcall import failure_reason


@dataclass(frozen=True)
class GatewayConfig:
    url: str
    auth_header: str = ""  # "Name: value", or "env:VARIABLE" holding that line
    body_template: str = '{"to": "{telefon}", "message": "{besked}"}'
    status_path: str = "status"
    delivered_values: frozenset[str] = frozenset({"delivered"})
    failed_values: frozenset[str] = frozenset({"failed", "rejected", "undeliverable"})
    timeout_s: float = 10.0
    max_attempts: int = 3
    backoff_s: float = 0.5

    @classmethod
    def from_settings(cls, values: dict) -> "GatewayConfig":
        def words(text: str) -> frozenset[str]:
            return frozenset(w.strip().lower() for w in str(text).split(",") if w.strip())

        return cls(url=values["sms.gateway_url"], auth_header=values["sms.auth_header"],
                   body_template=values["sms.body_template"],
                   status_path=values["sms.status_path"],
                   delivered_values=words(values["sms.delivered_values"]),
                   failed_values=words(values["sms.failed_values"]),
                   timeout_s=float(values["sms.timeout_s"]),
                   max_attempts=max(1, int(values["sms.max_attempts"])))

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Accept": "application/json"}
        line = self.auth_header.strip()
        if line.startswith("env:"):
            line = os.environ.get(line[4:].strip(), "").strip()
            if not line:
                raise ValidationError(f"miljøvariablen {self.auth_header[4:].strip()} er tom",
                                      "SMS-gateway: autorisation")
        if line:
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                raise ValidationError("skal have formen 'Navn: værdi'",
                                      "SMS-gateway: autorisation")
            headers[name.strip()] = value.strip()
        return headers


@dataclass
class SendResult:
    status: str  # sent | delivered | failed
    attempts: int
    gateway_status: str = ""
    error: str = ""
    log: list[str] = field(default_factory=list)


def status_at(answer, path: str) -> str:
    node = answer
    for part in [p for p in (path or "").split(".") if p]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return ""
    return "" if isinstance(node, (dict, list)) or node is None else str(node)


def send(config: GatewayConfig, values: dict[str, str],
         sleep: Callable[[float], None] = time.sleep) -> SendResult:
    """POSTs one message (``values``: telefon, besked, reference, dato, tidsrum, ...)."""
    if not config.url:
        raise ValidationError("ingen SMS-gateway er valgt (indstilling sms.gateway_url)",
                              "SMS-gateway: adresse")
    from hjemmeprove.settings import OPTIONS, web_address  # the setting's own rule

    web_address(config.url, OPTIONS["sms.gateway_url"].field)  # stored before the rule
    body = template.build_body(config.body_template, values)
    headers = config.headers()
    result = SendResult("failed", 0)
    for attempt in range(1, config.max_attempts + 1):
        result.attempts = attempt
        if attempt > 1:
            sleep(config.backoff_s * 2 ** (attempt - 2))
        req = urllib.request.Request(config.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=config.timeout_s) as resp:
                raw = resp.read(64 * 1024)
        except (urllib.error.URLError, OSError) as e:  # an HTTP status among them
            result.error = failure_reason(e, config.timeout_s, "SMS-gatewayen")
            result.log.append(result.error)
            if isinstance(e, urllib.error.HTTPError) and e.code < 500 and e.code != 429:
                return result  # refused for good: sending again gives the same answer
            continue
        try:
            answer = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except ValueError:
            answer = {}
        gw = status_at(answer, config.status_path)
        result.gateway_status = gw[:100]
        result.error = ""
        if gw.lower() in config.failed_values:
            result.status = "failed"
            result.error = f"gatewayen svarede '{gw}'"
        elif gw.lower() in config.delivered_values:
            result.status = "delivered"
        else:
            result.status = "sent"
        return result
    return result
