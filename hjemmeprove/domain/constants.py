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

# Denmark in WGS84 degrees (Bornholm and Ertholmene included, with a margin): a position
# outside is a typo, swapped columns or another projection (UTM), not a citizen's home or
# the lab. The request form, the department's set-up and the address register check by it.
DENMARK_LAT = (54.0, 58.0)
DENMARK_LON = (8.0, 15.5)


def in_denmark(lat: float, lon: float) -> bool:
    return DENMARK_LAT[0] <= lat <= DENMARK_LAT[1] and DENMARK_LON[0] <= lon <= DENMARK_LON[1]
