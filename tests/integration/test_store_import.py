"""`kasse import`: idempotent, declarative, and all-or-nothing with clear errors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import select

from kasse.adapters.config_file import parse_toml, parse_yaml, read_config_file
from kasse.adapters.db import tables as t
from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.adapters.db.store_repository import find_store_row, load_store_config
from kasse.demo import DEMO_STORE_FILE
from kasse.services.store_import import StoreFileInvalid, import_store, validate_store_file

MINIMAL = """\
store:
  alias: tiny
  name: Tiny Shop
  baseCurrency: EUR
  defaultCountry: DE
  defaultTaxClass: standard
currencies:
  - {code: EUR, name: Euro, culture: de-DE}
countries:
  - {code: DE, name: Germany, defaultCurrency: EUR}
taxClasses:
  - alias: standard
    name: Standard
    defaultRate: 0.19
products:
  - reference: p1
    sku: P1
    name: Thing
    prices: {EUR: 0.1}
"""


async def _snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    db = Database.from_url(url)
    try:
        async with db.read() as conn:
            return {
                table.name: sorted((tuple(r) for r in await conn.execute(select(table))), key=repr)
                for table in t.CONFIG_TABLES
            }
    finally:
        await db.dispose()


async def _import(url: str, data: Any) -> Any:
    db = Database.from_url(url)
    try:
        return await import_store(SqlStorage(db), data)
    finally:
        await db.dispose()


def test_importing_the_demo_twice_changes_nothing(empty_db_url: str) -> None:
    data = read_config_file(DEMO_STORE_FILE).data
    first = asyncio.run(_import(empty_db_url, data))
    before = asyncio.run(_snapshot(empty_db_url))
    second = asyncio.run(_import(empty_db_url, data))
    after = asyncio.run(_snapshot(empty_db_url))
    assert first.created > 100 and first.changed
    assert not second.changed
    assert before == after


def test_demo_store_has_what_a_shop_needs(demo_db_url: str) -> None:
    async def load() -> Any:
        db = Database.from_url(demo_db_url)
        try:
            async with db.read() as conn:
                found = await find_store_row(conn, "demo")
                assert found is not None
                config = await load_store_config(conn, found[0])
                products = (await conn.execute(select(t.products))).all()
                variants = (await conn.execute(select(t.product_variants))).all()
            return config, products, variants
        finally:
            await db.dispose()

    config, products, variants = asyncio.run(load())
    assert len(config.currencies) >= 2
    assert len(config.countries) >= 4
    assert any(c.regions for c in config.countries)
    assert len(config.tax_classes) >= 2
    assert all(tc.rates for tc in config.tax_classes if tc.alias != "exempt")
    assert len(products) >= 12
    assert variants
    assert any(p.stock == 0 for p in products) or any(v.stock == 0 for v in variants)
    providers = {m.provider_alias for m in config.payment_methods}
    assert {"invoicing", "zeroValue"} <= providers and len(providers) >= 3
    assert len(config.shipping_methods) >= 3
    assert any(m.options for m in config.shipping_methods)


def test_money_in_files_is_exact_and_updates_apply(empty_db_url: str) -> None:
    asyncio.run(_import(empty_db_url, parse_yaml(MINIMAL).data))
    changed = MINIMAL.replace("prices: {EUR: 0.1}", "prices: {EUR: 1234567.8905}")
    result = asyncio.run(_import(empty_db_url, parse_yaml(changed).data))
    assert (result.created, result.updated, result.deleted) == (0, 1, 0)
    prices = asyncio.run(_snapshot(empty_db_url))["prices"]
    assert [row[2] for row in prices] == [Decimal("1234567.8905")]


def test_entities_removed_from_the_file_are_removed(empty_db_url: str) -> None:
    with_two = MINIMAL + "  - {reference: p2, sku: P2, name: Other, prices: {EUR: 2}}\n"
    asyncio.run(_import(empty_db_url, parse_yaml(with_two).data))
    result = asyncio.run(_import(empty_db_url, parse_yaml(MINIMAL).data))
    assert result.deleted == 2  # the product and its price
    refs = [row[2] for row in asyncio.run(_snapshot(empty_db_url))["products"]]
    assert refs == ["p1"]


def test_toml_files_work_like_yaml(empty_db_url: str) -> None:
    toml = """
[store]
alias = "tiny"
name = "Tiny Shop"
baseCurrency = "EUR"
defaultCountry = "DE"
defaultTaxClass = "standard"

[[currencies]]
code = "EUR"
name = "Euro"
culture = "de-DE"

[[countries]]
code = "DE"
name = "Germany"

[[taxClasses]]
alias = "standard"
name = "Standard"
defaultRate = 0.19

[[products]]
reference = "p1"
sku = "P1"
name = "Thing"
prices = { EUR = 0.1 }
"""
    asyncio.run(_import(empty_db_url, parse_toml(toml).data))
    yaml_result = asyncio.run(_import(empty_db_url, parse_yaml(MINIMAL).data))
    # The YAML file describes the same store except the country's default currency.
    assert (yaml_result.created, yaml_result.deleted) == (0, 0)
    assert yaml_result.updated == 1


@pytest.mark.parametrize(("broken", "line", "needle"), [
    (MINIMAL.replace("defaultRate: 0.19", "defaultRate: 19"), 14, "between 0 and 1"),
    (MINIMAL.replace("prices: {EUR: 0.1}", "prices: {EUR: -1}"), 19, "negative"),
    (MINIMAL.replace("prices: {EUR: 0.1}", "prices: {USD: 1}"), 19, "'USD' is not in currencies"),
    (MINIMAL.replace("  name: Tiny Shop\n", "  name: Tiny Shop\n  colour: red\n"), 4,
     "unknown field"),
    (MINIMAL.replace("defaultCountry: DE", "defaultCountry: FR"), 5, "'FR' is not in countries"),
    (MINIMAL.replace("prices: {EUR: 0.1}", "prices: {EUR: 0.0000001}"), 19,
     "more than 6 decimal places"),
    (MINIMAL.replace("EUR", "XXY"), 8, "'XXY' is not an ISO 4217 currency code"),
    (MINIMAL.replace("DE", "QQ"), 10, "'QQ' is not an ISO 3166 country code"),
])
def test_bad_files_name_field_and_line_and_change_nothing(
        empty_db_url: str, broken: str, line: int, needle: str) -> None:
    asyncio.run(_import(empty_db_url, parse_yaml(MINIMAL).data))
    before = asyncio.run(_snapshot(empty_db_url))
    document = parse_yaml(broken)
    with pytest.raises(StoreFileInvalid) as caught:
        asyncio.run(_import(empty_db_url, document.data))
    messages = [(document.line_of(loc), message) for loc, message in caught.value.problems]
    assert any(needle in message for _, message in messages), messages
    assert any(found == line for found, _ in messages), messages
    assert asyncio.run(_snapshot(empty_db_url)) == before


@pytest.mark.parametrize(("broken", "problems"), [
    (MINIMAL.replace("EUR", "XXY"),
     [(("currencies", 0, "code"), "'XXY' is not an ISO 4217 currency code (such as EUR or USD)")]),
    (MINIMAL.replace("DE", "QQ"),
     [(("countries", 0, "code"), "'QQ' is not an ISO 3166 country code (such as DE or US)")]),
    (MINIMAL.replace("DE", "EU"),  # a union of countries, not a place to ship to
     [(("countries", 0, "code"), "'EU' is not an ISO 3166 country code (such as DE or US)")]),
    (MINIMAL.replace("de-DE}", "de-DE}\n  - {code: xxy, name: Made up, culture: en}"),
     [(("currencies", 1, "code"), "'XXY' is not an ISO 4217 currency code (such as EUR or USD)")]),
])
def test_currencies_and_countries_must_be_iso_codes(broken: str,
                                                     problems: list[tuple[Any, str]]) -> None:
    with pytest.raises(StoreFileInvalid) as caught:
        validate_store_file(parse_yaml(broken).data)
    assert caught.value.problems == problems


def test_real_codes_beyond_the_demo_s_are_accepted() -> None:
    lots = MINIMAL.replace("currencies:\n", "currencies:\n" + "".join(
        f"  - {{code: {code}, name: {code}, culture: en}}\n"
        for code in ("CHF", "JPY", "BRL", "xts"))).replace("countries:\n", "countries:\n" + "".join(
            f"  - {{code: {code}, name: {code}}}\n" for code in ("ch", "JP", "BR", "XK", "IC")))
    parsed = validate_store_file(parse_yaml(lots).data)
    assert [c.code for c in parsed.currencies] == ["CHF", "JPY", "BRL", "XTS", "EUR"]
    assert [c.code for c in parsed.countries] == ["CH", "JP", "BR", "XK", "IC", "DE"]


def test_cli_import_reports_errors_with_line_numbers(empty_db_url: str, tmp_path: Path) -> None:
    good = tmp_path / "store.yaml"
    good.write_text(MINIMAL, encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.replace("culture: de-DE", "culture: 42"), encoding="utf-8")
    env = {**os.environ, "KASSE_DATABASE_URL": empty_db_url, "KASSE_DATA_DIR": str(tmp_path)}

    def kasse(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kasse", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    first = kasse("import", str(good))
    assert first.returncode == 0, first.stderr
    assert "1 created" not in first.stdout and "created" in first.stdout
    again = kasse("import", str(good))
    assert again.returncode == 0 and "nothing changed" in again.stdout
    failed = kasse("import", str(bad))
    assert failed.returncode == 2
    assert "line 8" in failed.stderr and "currencies[0].culture" in failed.stderr
    assert "nothing was changed" in failed.stderr
    assert "Traceback" not in failed.stderr
    syntax = tmp_path / "syntax.yaml"
    syntax.write_text("store: [unclosed\n", encoding="utf-8")
    broken = kasse("import", str(syntax))
    assert broken.returncode == 2 and "line" in broken.stderr and "Traceback" not in broken.stderr


# --- live state: the file owns the configuration, the running shop its stock ---------------

STOCKED = MINIMAL + """\
    stock: 5
  - reference: tee
    sku: TEE
    name: Tee
    prices: {EUR: 20}
    variants:
      - {reference: tee-m, sku: TEE-M, name: Tee M, stock: 8}
"""


async def _stock(url: str) -> dict[str, Decimal | None]:
    db = Database.from_url(url)
    try:
        async with db.read() as conn:
            rows = [*await conn.execute(select(t.products.c.reference, t.products.c.stock)),
                    *await conn.execute(select(t.product_variants.c.reference,
                                               t.product_variants.c.stock))]
            return {row.reference: row.stock for row in rows}
    finally:
        await db.dispose()


async def _sell(url: str, **sold: int) -> None:
    """Take stock as finalized orders do."""
    db = Database.from_url(url)
    try:
        async with SqlStorage(db).ordering(write=True) as unit:
            found = await find_store_row(unit.conn, "tiny")
            assert found is not None
            for reference, quantity in sold.items():
                product, _, variant = reference.partition("/")
                assert await unit.stock.take(found[0], uuid4(), product, variant or None,
                                             Decimal(quantity), datetime.now(UTC))
    finally:
        await db.dispose()


def test_a_changed_file_keeps_stock_on_hand_and_new_products_take_the_file_s(
        empty_db_url: str) -> None:
    asyncio.run(_import(empty_db_url, parse_yaml(STOCKED).data))
    asyncio.run(_sell(empty_db_url, p1=2, **{"tee/tee-m": 3}))
    changed = STOCKED.replace("prices: {EUR: 20}", "prices: {EUR: 21}") + (
        "  - {reference: cap, sku: CAP, name: Cap, prices: {EUR: 9}, stock: 4}\n")
    result = asyncio.run(_import(empty_db_url, parse_yaml(changed).data))
    # the new product with its price, and the tee's new price
    assert (result.created, result.updated, result.deleted) == (2, 1, 0)
    # 5 - 2 and 8 - 3 sold stay on hand; the new cap starts with the file's 4
    assert asyncio.run(_stock(empty_db_url)) == {
        "p1": Decimal(3), "tee": None, "tee-m": Decimal(5), "cap": Decimal(4)}
    assert [(k.label, k.on_hand, k.in_file) for k in result.stock_kept] == [
        ("p1", Decimal(3), Decimal(5)), ("tee [tee-m]", Decimal(5), Decimal(8))]
    assert result.stock_set == ()
    assert result.left_alone() == [
        "stock on hand of 2 existing products differs from the file and was kept; "
        "use --set-stock to take the file's figures"]


def test_set_stock_takes_the_file_s_figures(empty_db_url: str) -> None:
    asyncio.run(_import(empty_db_url, parse_yaml(STOCKED).data))
    asyncio.run(_sell(empty_db_url, p1=2))

    async def set_stock() -> Any:
        db = Database.from_url(empty_db_url)
        try:
            return await import_store(SqlStorage(db), parse_yaml(STOCKED).data, set_stock=True)
        finally:
            await db.dispose()

    result = asyncio.run(set_stock())
    assert [(c.label, c.on_hand, c.in_file) for c in result.stock_set] == [
        ("p1", Decimal(3), Decimal(5))]
    assert result.changed and result.stock_kept == () and result.left_alone() == []
    assert asyncio.run(_stock(empty_db_url))["p1"] == Decimal(5)
    again = asyncio.run(set_stock())
    assert not again.changed and again.stock_set == ()


def test_cli_import_says_what_it_kept_and_set_stock_prints_the_changes(
        empty_db_url: str, tmp_path: Path) -> None:
    store = tmp_path / "store.yaml"
    store.write_text(STOCKED, encoding="utf-8")
    env = {**os.environ, "KASSE_DATABASE_URL": empty_db_url, "KASSE_DATA_DIR": str(tmp_path),
           "PYTHONIOENCODING": "utf-8"}

    def kasse(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "kasse", *args], env=env,
                              capture_output=True, text=True, encoding="utf-8", timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    kasse("import", str(store))
    asyncio.run(_sell(empty_db_url, p1=1, **{"tee/tee-m": 8}))
    kept = kasse("import", str(store))
    assert "nothing changed" in kept
    assert ("stock on hand of 2 existing products differs from the file and was kept; "
            "use --set-stock to take the file's figures") in kept
    assert asyncio.run(_stock(empty_db_url))["tee-m"] == 0
    taken = kasse("import", "--set-stock", str(store))
    assert "stock on hand set to the file's figures" in taken
    assert "    p1: 4 → 5\n" in taken and "    tee [tee-m]: 0 → 8\n" in taken
    assert "differs from the file" not in taken
    assert asyncio.run(_stock(empty_db_url)) == {
        "p1": Decimal(5), "tee": None, "tee-m": Decimal(8)}
