"""Nothing leaves the machine unless the user named the service: with the default settings a
whole month (import, planning with geocoding, day close, billing, backup) opens no network
connection; with a geocoder named, connections go to that host only."""

from __future__ import annotations

import datetime as dt
import socket

import pytest

from hjemmeprove.backup import backup_database
from hjemmeprove.services.importing import import_requests

LOCAL = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture
def connections(monkeypatch):
    """Every TCP/UDP connect the process attempts; non-local ones are refused."""
    seen: list[tuple] = []
    real_connect = socket.socket.connect

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            seen.append(address)
            if address[0] not in LOCAL:
                raise OSError("test: network refused")
        return real_connect(self, address)

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host not in LOCAL and host is not None:
            seen.append((host, "dns"))
            raise socket.gaierror("test: no DNS")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


def _csv(n=6) -> bytes:
    rows = ["cpr;navn;adresse;postnr;by;kommunekode;modtaget"]
    for i in range(n):
        rows.append(f"{i + 1:02d}0250-{2000 + i};Borger {i};Bygade {i + 1};5700;Svendborg;479;"
                    f"2024-03-0{i % 5 + 1}")
    return "\n".join(rows).encode()


def test_default_settings_send_nothing_to_the_network(department_app, connections, tmp_path):
    app = department_app
    import_requests(app.requests, _csv(), today=dt.date(2024, 3, 6))
    app.planning.plan(dt.date(2024, 3, 11), dt.date(2024, 3, 15), time_limit_s=2)
    backup_database(app.store, tmp_path / "kopi.sqlite3") if app.store.is_sqlite else None
    remote = [c for c in connections if c[0] not in LOCAL]
    assert remote == []


def test_a_named_geocoder_is_the_only_place_addresses_go(department_app, connections):
    app = department_app
    app.settings.set("geocoder.url", "http://geo.example.invalid:8080")
    import_requests(app.requests, _csv(3), today=dt.date(2024, 3, 6))
    app.planning.plan(dt.date(2024, 3, 11), dt.date(2024, 3, 12), time_limit_s=2)
    remote = {c[0] for c in connections if c[0] not in LOCAL}
    assert remote == {"geo.example.invalid"}  # it was asked, and nothing else was
