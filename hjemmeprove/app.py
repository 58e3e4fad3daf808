"""The program's core as one object: a Store and the services over it.

The CLI and the desktop program both start here; tests make one per temporary database.
Services are created on first use, so a command pays only for what it touches.
"""

from __future__ import annotations

from functools import cached_property

from hjemmeprove.db.store import Store
from hjemmeprove.settings import DEMO_DATA, Settings


class App:
    def __init__(self, url: str | None = None, user: str | None = None, upgrade: bool = True):
        self.store = Store(url, user=user)
        if upgrade:
            self.store.upgrade()

    @cached_property
    def settings(self) -> Settings:
        return Settings(self.store)

    @cached_property
    def requests(self):
        from hjemmeprove.services.requests import RequestService

        return RequestService(self.store)

    @cached_property
    def admin(self):
        from hjemmeprove.services.admin import AdminService

        return AdminService(self.store)

    @cached_property
    def planning(self):
        from hjemmeprove.services.planning import PlanningService

        return PlanningService(self.store)

    @cached_property
    def day_close(self):
        from hjemmeprove.services.day_close import DayCloseService

        return DayCloseService(self.store)

    @cached_property
    def rates(self):
        from hjemmeprove.billing.rates import RateService

        return RateService(self.store)

    @cached_property
    def billing(self):
        from hjemmeprove.billing.service import BillingService

        return BillingService(self.store)

    @cached_property
    def stats(self):
        from hjemmeprove.billing.stats import StatsService

        return StatsService(self.store)

    @cached_property
    def intake(self):
        from hjemmeprove.intake.service import IntakeService

        return IntakeService(self.store)

    @cached_property
    def contact(self):
        from hjemmeprove.contact.service import ContactService

        return ContactService(self.store)

    def holds_demo_data(self) -> bool:
        """True when ``hjemmeprove demo`` filled this database (made-up citizens and rates)."""
        return bool(self.settings.get(DEMO_DATA))

    def calendar(self):
        return self.settings.calendar()

    def close(self) -> None:
        self.store.dispose()
