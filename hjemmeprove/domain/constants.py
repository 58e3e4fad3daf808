"""Constants that modules on every level share, kept at the bottom so that any of them can
import them without an import circle (``db/pg_roles.py`` writes them into triggers,
``security.py`` checks them, ``services/retention.py`` writes them into rows).
"""

from __future__ import annotations

# The program's roles (a user has one). Danish names for messages: ``security.ROLE_NAMES_DA``.
ROLES = ("coordinator", "finance", "administrator")
COORDINATOR, FINANCE, ADMINISTRATOR = ROLES

# PostgreSQL: the group role that carries each program role (``hjemmeprove roles setup``).
PG_GROUP_ROLES = {role: f"hjemmeprove_{role}" for role in ROLES}

# What erased personal data is replaced by (retention); the database's triggers let an
# update through that only writes this marker over issued invoices and the audit trail.
ERASED = "[slettet]"
