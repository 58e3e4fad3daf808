"""requests keep the address they were booked with; flags that needed confirmation

Revision ID: 0005
Revises: 0004

A request now stores its sampling address at booking, also when it is the citizen's
registered address (``address_is_registered``), so that a later change of the citizen's
address never moves earlier requests or visits. ``flags`` records what the coordinator
confirmed at booking (``deadline_passed``, ``duplicate``, ``citizen_changed``).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("address_is_registered", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("flags", sa.String(length=200), nullable=False,
                                   server_default=""))
    # existing requests at the registered address: freeze the address they have today
    op.execute(
        "UPDATE requests SET address_is_registered = true, "
        "address = (SELECT c.address FROM citizens c WHERE c.id = requests.citizen_id), "
        "postcode = (SELECT c.postcode FROM citizens c WHERE c.id = requests.citizen_id), "
        "city = (SELECT c.city FROM citizens c WHERE c.id = requests.citizen_id), "
        "lat = (SELECT c.lat FROM citizens c WHERE c.id = requests.citizen_id), "
        "lon = (SELECT c.lon FROM citizens c WHERE c.id = requests.citizen_id), "
        "position_quality = (SELECT c.position_quality FROM citizens c "
        "WHERE c.id = requests.citizen_id) "
        "WHERE address = ''")


def downgrade() -> None:
    op.execute("UPDATE requests SET address = '', postcode = '', city = '' "
               "WHERE address_is_registered")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("flags")
        batch.drop_column("address_is_registered")
