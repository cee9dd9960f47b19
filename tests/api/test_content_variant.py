"""`GET /umbraco/delivery/api/v1/content/item/{id}/variant`: a product's variant by its
attribute combination, as storefronts built on the reference's content API ask for it."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient
from sqlalchemy import select

from kasse.adapters.db.database import Database
from kasse.adapters.db.tables import products

VARIANT = "/umbraco/delivery/api/v1/content/item/{id}/variant"


def _product_id(db_url: str, reference: str) -> str:
    async def query() -> str:
        db = Database.from_url(db_url)
        try:
            async with db.read() as conn:
                found = (await conn.execute(select(products.c.id).where(
                    products.c.reference == reference))).scalar_one()
                return str(found)
        finally:
            await db.dispose()

    return asyncio.run(query())


def test_a_variant_is_found_by_its_attributes(client: TestClient, demo_db_url: str) -> None:
    tee = _product_id(demo_db_url, "merino-tee")
    response = client.get(VARIANT.format(id=tee),
                          params=[("attribute", "size:m"), ("attribute", "colour:forest-green")])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["attributes"] == {"size": "m", "colour": "forest-green"}
    assert body["isDefault"] is False
    assert body["content"]["contentType"] == "productVariant"
    props = body["content"]["properties"]
    assert props["productVariantReference"] == "merino-tee-m-green"
    assert props["sku"] == "TEE-MERINO-M-GRN"
    assert props["stock"] == 8
    assert props["prices"] == {"EUR": 52, "USD": 58, "GBP": 47}

    by_names = client.get(VARIANT.format(id=tee), params={"attribute": "Size:S,Colour:Black"})
    assert by_names.json()["content"]["properties"]["sku"] == "TEE-MERINO-S-BLK"
    assert by_names.json()["isDefault"] is True


def test_unknown_combinations_products_and_bad_input(client: TestClient,
                                                     demo_db_url: str) -> None:
    tee = _product_id(demo_db_url, "merino-tee")
    none = client.get(VARIANT.format(id=tee), params={"attribute": "size:xxl"})
    assert none.status_code == 404
    assert "no variant" in none.json()["detail"]
    assert client.get(VARIANT.format(id="00000000-0000-0000-0000-000000000000"),
                      params={"attribute": "size:m"}).status_code == 404
    assert client.get(VARIANT.format(id="not-a-uuid"),
                      params={"attribute": "size:m"}).status_code == 404
    malformed = client.get(VARIANT.format(id=tee), params={"attribute": "size"})
    assert malformed.status_code == 400
    assert "attribute:value" in malformed.json()["detail"]
    assert client.get(VARIANT.format(id=tee)).status_code == 400  # attribute is required
    assert client.get(VARIANT.format(id=tee), params={"attribute": "size:m"},
                      headers={"Api-Key": "wrong"}).status_code == 401
