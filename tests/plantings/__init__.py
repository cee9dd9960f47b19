"""Planted bugs: proof that the tests guarding kasse's central promises can fail.

Each planting removes one safeguard from a copy of the source (the working tree is never
touched), runs the tests that claim to guard it on the engines where the safeguard
matters, and expects them to fail. A planting whose tests still pass means the promise is
no longer proven; a planting whose text is no longer found in the source means the code
moved and the planting must follow it. Both make the run fail.

    python3 tasks.py plantings            # on SQLite
    python3 tasks.py plantings --postgres postgresql://user@host:port/db

CI runs both after the suite (see .ci/run).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Planting:
    name: str
    why: str
    """What would go wrong in production without the safeguard."""
    file: str
    """Relative to the repository."""
    replacements: tuple[tuple[str, str], ...]
    """(text found exactly once, what replaces it)."""
    tests: tuple[str, ...]
    engines: frozenset[str]
    """``sqlite`` and/or ``postgresql``: where the safeguard is the one that matters."""


ORDER_REPOSITORY = "src/kasse/adapters/db/order_repository.py"
ROW_LOCK = ('''\
    orders.c.id == bindparam("b_id"), orders.c.store_id == bindparam("b_store_id")
).with_for_update()''', '''\
    orders.c.id == bindparam("b_id"), orders.c.store_id == bindparam("b_store_id")
)''')
VERSION_TERM = ('''orders.c.version == bindparam("b_version"))''',
                '''or_(orders.c.version == bindparam("b_version"), true()))''')
VERSION_IMPORT = ("from sqlalchemy import ", "from sqlalchemy import or_, true, ")
ROWCOUNT = ("            **_order_values(order)})\n        if result.rowcount != 1:",
            "            **_order_values(order)})\n        if False:")
RACES = ("tests/integration/test_confirm_race.py",
         "tests/integration/test_checkout_race.py::"
         "test_one_finalization_whatever_arrives_at_once")
QUEUEING = ("tests/integration/test_order_concurrency.py::"
            "test_a_second_writer_of_an_order_waits_for_the_first_and_sees_its_change",)
STALE = ("tests/integration/test_order_concurrency.py::"
         "test_saving_a_stale_copy_is_refused_and_changes_nothing",)
STOCK_RACE = ("tests/integration/test_stock_race.py",)
MATRIX = ("tests/api/test_management_access.py::"
          "test_every_operation_is_open_to_exactly_the_callers_allowed")
BOTH = frozenset({"sqlite", "postgresql"})
POSTGRESQL = frozenset({"postgresql"})

PLANTINGS = (
    Planting(
        "no order lock, version term or rowcount check",
        "two finalizations of one order at once: two order numbers' worth of stock taken, "
        "two transactions kept",
        ORDER_REPOSITORY, (ROW_LOCK, VERSION_IMPORT, VERSION_TERM, ROWCOUNT), RACES,
        POSTGRESQL),
    Planting(
        "no order row lock",
        "writers of one order work on the same version; all but one fail and retry",
        ORDER_REPOSITORY, (ROW_LOCK,), QUEUEING, POSTGRESQL),
    Planting(
        "no version term in the order's save",
        "a stale copy of an order overwrites a newer one (lost update)",
        ORDER_REPOSITORY, (VERSION_IMPORT, VERSION_TERM), STALE, BOTH),
    Planting(
        "no rowcount check after the order's save",
        "a save that changed nothing is taken as done (lost update)",
        ORDER_REPOSITORY, (ROWCOUNT,), STALE, BOTH),
    Planting(
        "no unique index on the provider's event id",
        "a webhook delivered twice is processed twice",
        "src/kasse/adapters/db/migrations/versions/0003_checkout.py",
        (("    sa.UniqueConstraint('provider_alias', 'event_id', "
          "name='uq_payment_events_provider_event')\n", ""),),
        ("tests/integration/test_checkout_race.py::"
         "test_one_finalization_whatever_arrives_at_once",
         "tests/integration/test_hosted_checkout.py::"
         "test_a_webhook_delivered_twice_is_processed_once"),
        BOTH),
    Planting(
        "no lock on the item while its stock is held",
        "two checkouts hold the same last units; one order is placed without its stock",
        "src/kasse/adapters/db/stock_repository.py",
        (("            if self._postgres:\n"
          "                await self.conn.execute(_LOCK_VARIANT if is_variant else "
          "_LOCK_PRODUCT,\n",
          "            if False:\n"
          "                await self.conn.execute(_LOCK_VARIANT if is_variant else "
          "_LOCK_PRODUCT,\n"),),
        STOCK_RACE, POSTGRESQL),
    Planting(
        "holds not counted against what is available",
        "a shopper is sold what another shopper's checkout holds",
        "src/kasse/adapters/db/stock_repository.py",
        (("\n               stock_reservations.c.expires_at > bindparam(\"b_now\"),",
          "\n               stock_reservations.c.expires_at > bindparam(\"b_now\"), "
          "literal(False),"),),
        STOCK_RACE, BOTH),
    Planting(
        "SQLite writers not taking the write lock at BEGIN",
        "two writers read the same order and the later one fails with 'database is "
        "locked' (a 503) instead of waiting its turn",
        "src/kasse/adapters/db/engine.py",
        (('statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"',
          'statement = "BEGIN"'),),
        RACES + QUEUEING, frozenset({"sqlite"})),
    Planting(
        "support may manage staff and tokens",
        "a read-only support token adds staff, resets an owner's password, makes tokens",
        "src/kasse/domain/access.py",
        (("    Role.SUPPORT: _READ,\n", "    Role.SUPPORT: _READ | {Permission.STAFF},\n"),),
        (MATRIX,), BOTH),
    Planting(
        "a disabled staff member's tokens still work",
        "someone who left keeps acting through the tokens they made",
        "src/kasse/adapters/db/access_repository.py",
        (("if row is None or row.revoked_at is not None or row.staff_disabled:",
          "if row is None or row.revoked_at is not None:"),),
        (MATRIX,), BOTH),
    Planting(
        "a store's owner manages staff of every store",
        "the owner of one store resets the password of an owner of all stores and takes "
        "over the shop",
        "src/kasse/services/staff.py",
        (("            and not within(viewer, found[0].role, found[0].store_ids):",
          "            and False:"),),
        (MATRIX,), BOTH),
    Planting(
        "no lock on the owners while one is disabled",
        "two owners disabled at the same moment leave the shop without an owner",
        "src/kasse/adapters/db/access_repository.py",
        ((".order_by(staff.c.id).with_for_update())).all()",
          ".order_by(staff.c.id))).all()"),),
        ("tests/integration/test_staff_passwords.py::"
         "test_two_owners_disabled_at_once_leave_one",), POSTGRESQL),
    Planting(
        "no lock on the item while an adjustment is decided",
        "a count decided on a figure that another adjustment changed meanwhile leaves "
        "another number on hand than was counted",
        "src/kasse/adapters/db/stock_repository.py",
        (("""        statement = select(table.c.stock).where(table.c.id == item_id)
        if self._postgres:
            statement = statement.with_for_update()""",
          """        statement = select(table.c.stock).where(table.c.id == item_id)"""),),
        ("tests/integration/test_stock_adjustment_race.py",), POSTGRESQL),
    Planting(
        "refunds under way do not count against what is refundable",
        "refunds racing each other are all asked of the gateway: more than was captured is "
        "given back wherever the gateway does not refuse it",
        "src/kasse/domain/refunds.py",
        (("    left = (captured or ZERO) - (refunded or ZERO) - (pending or ZERO)",
          "    left = (captured or ZERO) - (refunded or ZERO)"),),
        ("tests/integration/test_order_actions_race.py::"
         "test_twenty_partial_refunds_at_once_never_refund_more_than_was_captured",), BOTH),
)
