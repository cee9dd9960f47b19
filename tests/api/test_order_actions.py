"""The actions on a placed order through the management API: status, notes, tags and
shipments; what every action shares (an idempotency key acts once, ``If-Match`` refuses a
stale version, an audit entry with the versions); and who may do what, on which store.

The invoice order of ``placed_orders``: 2 × Enamel Camp Mug and 1 × Alps Trail Map.
"""

from __future__ import annotations

from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from tests.api.placed_orders import (
    audit,
    client,
    events,
    invoice_order,
    payments,
    problem,
    staff,
    topics,
)
from tests.api.test_inline_checkout import cart
from tests.conftest import API_KEY
from tests.management import MANAGEMENT

__all__ = ["client"]  # the fixture


def test_status_notes_and_tags(client: TestClient, demo_db_url: str) -> None:
    owner = staff(client, demo_db_url)
    order_id, _ = invoice_order(client)
    moved = owner.ok(f"/orders/{order_id}/status", {"status": "processing"})
    assert moved["orderStatus"]["alias"] == "processing"
    assert (moved["statusChange"]["from"]["alias"], moved["statusChange"]["to"]["alias"]) \
        == ("new", "processing")
    same = owner.ok(f"/orders/{order_id}/status", {"status": "Processing"})
    assert same["changed"] is False and same["version"] == moved["version"]
    problem(owner.act(f"/orders/{order_id}/status", {"status": "lost"}), 400,
            "no order status 'lost'", "new, processing, shipped, cancelled")
    problem(owner.act(f"/orders/{order_id}/status", {"status": "cancelled"}), 400,
            "cancel order")
    (news,) = events(demo_db_url, order_id, "order.status_changed")
    assert (news["orderStatus"]["alias"], news["previousOrderStatus"]["alias"]) == (
        "processing", "new")

    noted = owner.ok(f"/orders/{order_id}/notes", {"body": "Called: leave at the door.\n"
                                                           "Ring twice."}, 201)
    assert noted["note"]["body"] == "Called: leave at the door.\nRing twice."
    assert noted["version"] == moved["version"]  # a note does not change the order
    problem(owner.act(f"/orders/{order_id}/notes", {"body": "bell \x07"}), 400, "printable")
    problem(owner.act(f"/orders/{order_id}/notes", {"body": "x" * 5001}), 400, "5000")

    tagged = owner.ok(f"/orders/{order_id}/tags", {"add": ["vip", "gift"]})
    assert tagged["tags"] == ["vip", "gift"]
    tagged = owner.ok(f"/orders/{order_id}/tags", {"add": ["rush"], "remove": ["gift"]})
    assert tagged["tags"] == ["vip", "rush"]
    replaced = owner.ok(f"/orders/{order_id}/tags", {"tags": ["b2b"]}, method="PUT")
    assert replaced["tags"] == ["b2b"]
    problem(owner.act(f"/orders/{order_id}/tags", {"add": ["x" * 101]}), 400, "100")

    actions = [e["action"] for e in audit(demo_db_url, order_id)]
    assert actions == ["order.status_changed", "order.note_added", "order.tags_changed",
                       "order.tags_changed", "order.tags_changed"]


def test_shipments_in_parts(client: TestClient, demo_db_url: str) -> None:
    owner = staff(client, demo_db_url)
    order_id, lines = invoice_order(client)
    first = owner.ok(f"/orders/{order_id}/fulfilments", {
        "lines": [{"lineId": lines["camp-mug"], "quantity": 1}], "carrier": "DHL",
        "trackingNumber": "JD014600003828", "trackingUrl":
        "https://www.dhl.example/track?id=JD014600003828"}, 201)
    assert first["fulfilmentStatus"] == "partial"
    shipment = first["fulfilment"]
    assert (shipment["carrier"], shipment["trackingNumber"]) == ("DHL", "JD014600003828")
    assert shipment["lines"] == [{"lineId": lines["camp-mug"], "quantity": "1"}]
    problem(owner.act(f"/orders/{order_id}/fulfilments", {
        "lines": [{"lineId": lines["camp-mug"], "quantity": 2}]}), 400,
        "1 of 2 are left to ship")
    problem(owner.act(f"/orders/{order_id}/fulfilments", {
        "trackingUrl": "javascript:alert(1)"}), 400, "trackingUrl")
    problem(owner.act(f"/orders/{order_id}/fulfilments", {
        "lines": [{"lineId": str(uuid4()), "quantity": 1}]}), 400, "has no line")

    rest = owner.ok(f"/orders/{order_id}/fulfilments", None, 201)
    assert rest["fulfilmentStatus"] == "fulfilled"
    assert sorted(item["quantity"] for item in rest["fulfilment"]["lines"]) == ["1", "1"]
    problem(owner.act(f"/orders/{order_id}/fulfilments"), 409, "nothing left to ship")
    shipped = events(demo_db_url, order_id, "order.fulfilled")
    assert [e["fulfilmentStatus"] for e in shipped] == ["partial", "fulfilled"]
    assert shipped[0]["trackingUrl"] == "https://www.dhl.example/track?id=JD014600003828"

    # Refunding a shipped line is allowed, and the answer says so.
    owner.ok(f"/orders/{order_id}/payments", {"reference": "BANK-7"}, 201)
    refunded = owner.ok(f"/orders/{order_id}/refunds", {
        "lines": [{"lineId": lines["trail-map"], "quantity": 1}]}, 201)
    assert refunded["refund"]["amount"] == "12.90"
    assert any("1 of 1 × Alps Trail Map were shipped" in w for w in refunded["warnings"])


def test_an_idempotency_key_acts_once(client: TestClient, demo_db_url: str) -> None:
    owner = staff(client, demo_db_url)
    order_id, _ = invoice_order(client)
    owner.ok(f"/orders/{order_id}/payments", {"reference": "BANK-9"}, 201)
    key = uuid4().hex
    first = owner.act(f"/orders/{order_id}/refunds", {"amount": "5.00"}, key=key)
    again = owner.act(f"/orders/{order_id}/refunds", {"amount": "5.00"}, key=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    problem(owner.act(f"/orders/{order_id}/refunds", {"amount": "6.00"}, key=key), 422,
            "different request")
    assert [p["kind"] for p in payments(demo_db_url, order_id)] == ["payment", "refund"]
    # A refusal is kept too: the same request with the same key is refused the same way.
    too_much = owner.act(f"/orders/{order_id}/refunds", {"amount": "99"}, key="k-2")
    assert owner.act(f"/orders/{order_id}/refunds", {"amount": "99"}, key="k-2").json() \
        == too_much.json()

    for path, body in [("/status", {"status": "shipped"}), ("/notes", {"body": "once"}),
                       ("/tags", {"add": ["once"]}), ("/fulfilments", None)]:
        key = uuid4().hex
        answers = [owner.act(f"/orders/{order_id}{path}", body, key=key) for _ in range(3)]
        assert len({a.text for a in answers}) == 1, path
    assert topics(demo_db_url, order_id).count("order.status_changed") == 1
    assert topics(demo_db_url, order_id).count("order.fulfilled") == 1
    assert [e["action"] for e in audit(demo_db_url, order_id)].count("order.note_added") == 1

    problem(owner.act(f"/orders/{order_id}/notes", {"body": "x"},
                      headers={"Idempotency-Key": ""}), 400, "Idempotency-Key")


def test_if_match_refuses_a_stale_version(client: TestClient, demo_db_url: str) -> None:
    owner = staff(client, demo_db_url)
    order_id, _ = invoice_order(client)
    seen = owner.ok(f"/orders/{order_id}/tags", {"add": ["a"]})
    version = seen["version"]
    owner.ok(f"/orders/{order_id}/tags", {"add": ["b"]})  # someone else, meanwhile
    stale = owner.act(f"/orders/{order_id}/status", {"status": "processing"},
                      if_match=version)
    problem(stale, 412, f"not {version}")
    current = owner.ok(f"/orders/{order_id}/status", {"status": "processing"},
                       if_match=version + 1)
    assert current["version"] == version + 2
    problem(owner.act(f"/orders/{order_id}/status", {"status": "new"}, if_match="seven"),
            400, "If-Match")
    entries = audit(demo_db_url, order_id)
    assert [(e["version_before"], e["version_after"]) for e in entries] == [
        (version - 1, version), (version, version + 1), (version + 1, version + 2)]


@pytest.mark.parametrize(("role", "allowed"), [
    ("manager", {"status", "notes", "tags", "payments", "fulfilments"}),
    ("fulfilment", {"notes", "fulfilments"}),
    ("support", set()),
])
def test_what_each_role_may_do(client: TestClient, demo_db_url: str, role: str,
                               allowed: set[str]) -> None:
    order_id, _ = invoice_order(client)
    member = staff(client, demo_db_url, role)
    tries = {"status": {"status": "processing"}, "notes": {"body": "hi"},
             "tags": {"add": ["x"]}, "payments": {"reference": "BANK-3"},
             "fulfilments": None}
    for action, body in tries.items():
        answer = member.act(f"/orders/{order_id}/{action}", body)
        if action in allowed:
            assert answer.status_code in (200, 201), (action, answer.text)
        else:
            problem(answer, 403, f"{role} role may not")


def test_an_order_of_another_store_is_not_found(client: TestClient, demo_db_url: str) -> None:
    order_id, _ = invoice_order(client)
    elsewhere = staff(client, demo_db_url, "owner", stores=[uuid4()])
    problem(elsewhere.act(f"/orders/{order_id}/notes", {"body": "x"}), 404,
            f"no order with id {order_id}")
    owner = staff(client, demo_db_url)
    problem(owner.act("/orders/not-an-id/notes", {"body": "x"}), 404)
    problem(owner.act(f"/orders/{uuid4()}/notes", {"body": "x"}), 404)
    open_cart = cart(client, ("camp-mug", 1, None))
    problem(owner.act(f"/orders/{open_cart}/fulfilments"), 409, "not placed yet")
    # The storefront key opens nothing here.
    refused = client.post(f"{MANAGEMENT}/orders/{order_id}/notes", json={"body": "x"},
                          headers={"Api-Key": API_KEY, "Idempotency-Key": "k"})
    assert refused.status_code == 401
    assert audit(demo_db_url, order_id) == []
