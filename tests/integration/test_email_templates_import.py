"""A store's own email templates: a folder named in the store file replaces kasse's, and a
broken template is refused by ``kasse import`` with its file and line, before any
shopper's message could meet it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from kasse.demo import DEMO_STORE_FILE
from tests.integration.test_shopper_email_delivery import placed_order
from tests.integration.test_webhooks_over_http import cli, kasse_env


def store_file(folder: Path, templates: dict[str, str], **emails: object) -> Path:
    """The demo store's file with an email templates folder beside it."""
    data = yaml.safe_load(DEMO_STORE_FILE.read_text(encoding="utf-8"))
    data["emails"].update({"templates": "mail", **emails})
    path = folder / "shop.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    for name, text in templates.items():
        target = folder / "mail" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return path


def refused(env: dict[str, str], path: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "kasse", "import", str(path)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    return done.stderr


def test_a_template_of_the_stores_folder_replaces_kasses_own(demo_db_url: str,
                                                            tmp_path: Path) -> None:
    env = kasse_env(demo_db_url, tmp_path)
    order = placed_order(demo_db_url, tmp_path)
    path = store_file(tmp_path, {
        "de/confirmation.subject.txt": "Danke! Bestellung {{ order.number }} ist da\n",
        "en/words.jinja": open_words("en").replace('"Subtotal"', '"Items"')})
    assert "store 'demo'" in cli(env, "import", str(path))

    german = cli(env, "email", "preview", order["orderNumber"], "--language", "de")
    assert f"Subject: Danke! Bestellung {order['orderNumber']} ist da" in german
    english = cli(env, "email", "preview", order["orderNumber"])
    assert "Items: " in english and "Subtotal" not in english
    html = cli(env, "email", "preview", order["id"],
               "--format", "html", "--type", "shipped")
    assert "<html" in html and "Track" not in html  # no shipment yet: no tracking link


def open_words(language: str) -> str:
    from kasse.services.email_templates import BUILT_IN

    return (BUILT_IN / language / "words.jinja").read_text(encoding="utf-8")


def test_a_broken_template_is_refused_at_import_with_its_file_and_line(
        demo_db_url: str, tmp_path: Path) -> None:
    env = kasse_env(demo_db_url, tmp_path)
    order = placed_order(demo_db_url, tmp_path)
    path = store_file(tmp_path, {
        "de/confirmation.html": ('{% extends "layout.html" %}\n{% block content %}\n'
                                 "<p>{{ order.nmber }}</p>\n{% endblock %}\n"),
        "en/shipped.txt": "Hello {{ customer.first_name\n"})
    said = refused(env, path)
    assert "mail/en/shipped.txt: line 1:" in said
    # the syntax comes first; once it is right, the typo is found by rendering
    (tmp_path / "mail" / "en" / "shipped.txt").write_text("Hello {{ customer.first_name }}\n")
    said = refused(env, path)
    assert "mail/de/confirmation.html: line 3:" in said and "nmber" in said
    # nothing was changed: the store still sends kasse's own message
    preview = cli(env, "email", "preview", order["orderNumber"], "--language", "de")
    assert f"Subject: Ihre Bestellung {order['orderNumber']} bei Kasse Outfitters" in preview


def test_a_language_folder_must_be_complete_and_addresses_usable(demo_db_url: str,
                                                                  tmp_path: Path) -> None:
    env = kasse_env(demo_db_url, tmp_path)
    path = store_file(tmp_path, {"fr/confirmation.subject.txt": "Commande {{ order.number }}"},
                      sender="Shop <not an address>", bcc=["orders@localhost"])
    said = refused(env, path)
    assert "emails.sender" in said and "not an address" in said
    assert "emails.bcc[0]" in said
    path = store_file(tmp_path, {"fr/confirmation.subject.txt": "Commande {{ order.number }}"})
    said = refused(env, path)
    assert "mail/fr/: the language folder lacks fr/confirmation.txt" in said
