"""The program's core as one object: a Store and the services over it.

The CLI and the desktop program both start here; tests make one per temporary database.
"""

from __future__ import annotations

from functools import cached_property

from hjemmeprove.db.store import Store
from hjemmeprove.services.requests import RequestService
from hjemmeprove.settings import Settings


class App:
    def __init__(self, url: str | None = None, user: str | None = None, upgrade: bool = True):
        self.store = Store(url, user=user)
        if upgrade:
            self.store.upgrade()

    @cached_property
    def settings(self) -> Settings:
        return Settings(self.store)

    @cached_property
    def requests(self) -> RequestService:
        return RequestService(self.store)

    def calendar(self):
        return self.settings.calendar()

    def close(self) -> None:
        self.store.dispose()
