"""Who may do what: roles, the permission table and the current user's roles.

Three roles (``domain.constants.ROLES``): coordinator, finance, administrator. ``PERMISSIONS`` says
which roles may perform each action; services call ``require(store, action)`` before they
write, and it raises ``PermissionDenied`` (in Danish) otherwise.

Who the user is:

- **SQLite** (the single-user default): ``Store.user`` (``--user``, ``HJEMMEPROVE_USER`` or
  the login name) is looked up in the ``users`` table. While that table is empty the program
  runs in *single-user mode*: the one user is administrator with every right. Once a user
  exists, an unknown or deactivated user may read but change nothing.
- **PostgreSQL**: the database role the program connects as decides, by its membership of the
  group roles ``hjemmeprove_coordinator``, ``hjemmeprove_finance`` and
  ``hjemmeprove_administrator`` (created by ``hjemmeprove roles setup``, see
  ``hjemmeprove.db.pg_roles``). The database itself enforces the same rules with privileges
  and triggers, so a coordinator's connection cannot change an issued invoice even outside
  the program. A superuser or the database's owner (the DBA who migrates) has every right.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text

from hjemmeprove.db import pg_roles
from hjemmeprove.domain.constants import ADMINISTRATOR, COORDINATOR, FINANCE, PG_GROUP_ROLES, ROLES
from hjemmeprove.errors import FieldError, NotFound, PermissionDenied, ValidationError

ALL_ROLES = frozenset(ROLES)

ROLE_NAMES_DA = {
    COORDINATOR: "koordinator",
    FINANCE: "økonomi",
    ADMINISTRATOR: "administrator",
}

# action -> the roles that may perform it; (Danish description for the refusal message)
PERMISSIONS: dict[str, tuple[frozenset[str], str]] = {
    # requests, planning and the day's close: the coordinators' work
    "requests.edit": (frozenset({COORDINATOR}), "oprette og rette henvisninger"),
    "requests.import": (frozenset({COORDINATOR}), "importere henvisninger"),
    "requests.cancel": (frozenset({COORDINATOR}), "registrere aflysninger"),
    "planning.edit": (frozenset({COORDINATOR}), "planlægge ruter"),
    "dayclose.edit": (frozenset({COORDINATOR}), "registrere dagens udfald og kørte km"),
    "bioanalysts.edit": (frozenset({COORDINATOR, ADMINISTRATOR}), "rette bioanalytikere"),
    "closing_days.edit": (frozenset({COORDINATOR, ADMINISTRATOR}), "rette lukkedage"),
    # the full CPR number: only where a task needs it
    "cpr.view": (frozenset({COORDINATOR, FINANCE, ADMINISTRATOR}), "se fulde CPR-numre"),
    # money: finance's
    "rates.edit": (frozenset({FINANCE}), "rette takster og fremskrivningsprocenter"),
    "agreements.edit": (frozenset({FINANCE}), "rette aftaler"),
    "invoices.draft": (frozenset({FINANCE}), "danne fakturakladder"),
    "invoices.issue": (frozenset({FINANCE}), "udstede fakturaer og kreditnotaer"),
    "invoices.override": (frozenset({ADMINISTRATOR}),
                          "tillade udstedelse af en måned, der ikke er færdig"),
    "municipalities.edit": (frozenset({FINANCE, ADMINISTRATOR}), "rette kommuner"),
    "departments.edit": (frozenset({FINANCE, ADMINISTRATOR}), "rette afdelingen"),
    # the program itself: the administrator's
    "settings.edit": (frozenset({ADMINISTRATOR}), "ændre indstillinger"),
    "users.manage": (frozenset({ADMINISTRATOR}), "oprette og rette brugere"),
    "citizens.erase": (frozenset({ADMINISTRATOR}), "slette borgerdata efter opbevaringsperioden"),
    "backup.restore": (frozenset({ADMINISTRATOR}), "gendanne databasen fra en kopi"),
    "roles.setup": (frozenset({ADMINISTRATOR}), "oprette databaseroller"),
}

@dataclass(frozen=True)
class Identity:
    user: str
    roles: frozenset[str]
    single_user: bool = False  # SQLite with no users: administrator with every right
    superuser: bool = False  # PostgreSQL superuser or database owner

    @property
    def all_rights(self) -> bool:
        return self.single_user or self.superuser

    def may(self, action: str) -> bool:
        if action not in PERMISSIONS:
            raise KeyError(f"unknown action {action!r}")
        return self.all_rights or bool(self.roles & PERMISSIONS[action][0])


def identity(store) -> Identity:
    """Who is working, and in which roles (read fresh each time: roles can change)."""
    if store.is_sqlite:
        return _sqlite_identity(store)
    return _pg_identity(store)


def _sqlite_identity(store) -> Identity:
    from hjemmeprove.db.models import User  # not at import: see settings.calendar

    with store.engine.connect() as conn:
        if not store.engine.dialect.has_table(conn, "users"):
            return Identity(store.user, frozenset({ADMINISTRATOR}), single_user=True)
        count = conn.scalar(select(func.count()).select_from(User))
        if not count:
            return Identity(store.user, frozenset({ADMINISTRATOR}), single_user=True)
        row = conn.execute(select(User.role, User.active)
                           .where(User.username == store.user)).first()
    if row is None or not row.active or row.role not in ROLES:
        return Identity(store.user, frozenset())
    return Identity(store.user, frozenset({row.role}))


def _pg_identity(store) -> Identity:
    with store.engine.connect() as conn:
        me = conn.execute(text(
            "SELECT current_user AS name, r.rolsuper AS super, "
            "pg_has_role(current_user, (SELECT datdba FROM pg_database "
            "  WHERE datname = current_database()), 'MEMBER') AS owner "
            "FROM pg_roles r WHERE r.rolname = current_user")).first()
        groups = {r[0] for r in conn.execute(
            text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:names) "
                 "AND pg_has_role(current_user, oid, 'MEMBER')"),
            {"names": list(PG_GROUP_ROLES.values())})}
    roles = {role for role, group in PG_GROUP_ROLES.items() if group in groups}
    superuser = bool(me.super or me.owner) if me is not None else False
    # The audit trail names the program's user; the DB role is what the database checks.
    return Identity(me.name if me is not None else store.user, frozenset(roles),
                    superuser=superuser)


def roles_text(roles) -> str:
    return ", ".join(ROLE_NAMES_DA[r] for r in ROLES if r in roles) or "ingen rolle"


def require(store, action: str) -> Identity:
    """Raises PermissionDenied unless the current user may perform ``action``."""
    who = identity(store)
    if who.may(action):
        return who
    allowed, what = PERMISSIONS[action]
    needed = " eller ".join(ROLE_NAMES_DA[r] for r in ROLES if r in allowed)
    raise PermissionDenied(
        f"{who.user} må ikke {what}: det kræver rollen {needed} "
        f"(du har {roles_text(who.roles)})")


# --- users -------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    username: str
    full_name: str
    role: str
    active: bool


def _check_user_input(username: str, role: str):
    errors = []
    name = (username or "").strip()
    if not name:
        errors.append(FieldError("brugernavn", "skal udfyldes"))
    elif len(name) > 63 or not all(ch.isalnum() or ch in "._-@" for ch in name):
        errors.append(FieldError("brugernavn", "højst 63 tegn: bogstaver, cifre og . _ - @"))
    if role not in ROLES:
        errors.append(FieldError("rolle", f"skal være {', '.join(ROLES)}"))
    if errors:
        raise ValidationError(errors)
    return name


def add_user(store, username: str, role: str, full_name: str = "") -> UserRow:
    """Adds a user (or changes the role of an existing one). On PostgreSQL the login role is
    made a member of the matching group role, which is what the database checks."""
    from hjemmeprove.db.models import User  # not at import: see settings.calendar

    name = _check_user_input(username, role)
    require(store, "users.manage")
    with store.session() as s:
        first = not s.scalar(select(func.count()).select_from(User))
        if first and store.is_sqlite and role != ADMINISTRATOR:
            raise ValidationError("den første bruger skal være administrator (ellers kan ingen "
                                  "rette brugere bagefter)", "rolle")
        row = s.get(User, name)
        if row is None:
            row = User(username=name, role=role, full_name=full_name.strip(), active=True)
            s.add(row)
        else:
            if role != ADMINISTRATOR:
                _keep_an_administrator(s, name)
            row.role, row.active = role, True
            if full_name.strip():
                row.full_name = full_name.strip()
        result = UserRow(row.username, row.full_name, row.role, row.active)
    if not store.is_sqlite:
        pg_roles.grant_login(store, name, role)
    return result


def deactivate_user(store, username: str) -> None:
    from hjemmeprove.db.models import User  # not at import: see settings.calendar

    require(store, "users.manage")
    with store.session() as s:
        row = s.get(User, username)
        if row is None:
            raise NotFound(f"brugeren {username} findes ikke")
        _keep_an_administrator(s, username)
        row.active = False
    if not store.is_sqlite:
        pg_roles.revoke_login(store, username)


def list_users(store) -> list[UserRow]:
    from hjemmeprove.db.models import User  # not at import: see settings.calendar

    with store.session() as s:
        return [UserRow(u.username, u.full_name, u.role, u.active)
                for u in s.scalars(select(User).order_by(User.username))]


def _keep_an_administrator(s, leaving: str) -> None:
    from hjemmeprove.db.models import User  # not at import: see settings.calendar

    others = s.scalar(select(func.count()).select_from(User).where(
        User.role == ADMINISTRATOR, User.active.is_(True), User.username != leaving))
    was_admin = s.scalar(select(func.count()).select_from(User).where(
        User.username == leaving, User.role == ADMINISTRATOR, User.active.is_(True)))
    if was_admin and not others:
        raise ValidationError("der skal være mindst én aktiv administrator", "rolle")
