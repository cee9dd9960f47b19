"""Plumbing for the Stripe tests: a store that pays with ``stripe-checkout``, localstripe
(a Stripe-compatible server) and kasse, each in its own process on a free loopback port.

kasse's Stripe SDK is pointed at localstripe with ``KASSE_STRIPE_API_BASE``; localstripe
delivers its webhooks to kasse's callback URL, signed with the method's signing secret
as Stripe signs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import stripe

from tests.conftest import API_KEY
from tests.integration.hosted import API, CALLBACK, DbReader, free_port, running, wait_for

ROOT = Path(__file__).resolve().parents[2]
STORE = "stripe-shop"
SECRET_KEY = "sk_test_kasse_0123456789"
PUBLIC_KEY = "pk_test_kasse_0123456789"
WEBHOOK_SECRET = "whsec_kasse_test_0123456789"
SHOP = "https://shop.test"

# Prices include tax. Tea set EUR 48.00 / JPY 6000, post EUR 2.00 / JPY 500:
# a tea set and post cost EUR 50.00 or JPY 6500.
EUR_TOTAL = Decimal("50.00")
JPY_TOTAL = Decimal("6500")


def store_yaml(*, capture: bool) -> str:
    """The test store. The webhook signing secret is (deliberately) not marked secret
    here: the provider declares it secret, so kasse keeps it to itself all the same."""
    return f"""
store:
  alias: {STORE}
  name: Stripe Test Shop
  pricesIncludeTax: true
  baseCurrency: EUR
  defaultCountry: DE
  defaultTaxClass: standard
  defaultOrderStatus: new
  cartNumberTemplate: "CART-{{0}}"
  orderNumberTemplate: "ORDER-{{0}}"
  roundingMethod: unit
currencies:
  - {{code: EUR, name: Euro, culture: de-DE, decimalPlaces: 2, allowedCountries: [DE]}}
  - {{code: JPY, name: Japanese Yen, culture: ja-JP, decimalPlaces: 0, allowedCountries: [JP]}}
countries:
  - {{code: DE, name: Germany, defaultCurrency: EUR, defaultPaymentMethod: stripe,
     defaultShippingMethod: post}}
  - {{code: JP, name: Japan, defaultCurrency: JPY, defaultPaymentMethod: stripe,
     defaultShippingMethod: post}}
taxClasses:
  - alias: standard
    name: Standard rate
    defaultRate: 0.19
    rates:
      - {{country: DE, rate: 0.19}}
      - {{country: JP, rate: 0.10}}
orderStatuses:
  - {{alias: new, name: New}}
paymentMethods:
  - alias: stripe
    name: Card (Stripe)
    provider: stripe-checkout
    settings:
      ContinueUrl: {SHOP}/confirmation
      CancelUrl: {SHOP}/cart
      ErrorUrl: {SHOP}/error
      TestMode: true
      Capture: {"true" if capture else "false"}
      TestSecretKey: {{value: {SECRET_KEY}, secret: true}}
      TestPublicKey: {PUBLIC_KEY}
      TestWebhookSigningSecret: {WEBHOOK_SECRET}
shippingMethods:
  - alias: post
    name: Post
    prices: {{EUR: 2.00, JPY: 500}}
products:
  - reference: tea-set
    sku: TEA-SET
    name: Tea Set
    prices: {{EUR: 48.00, JPY: 6000}}
    stock: 100
"""


def write_store(folder: Path, *, capture: bool) -> Path:
    path = folder / "stripe-store.yaml"
    path.write_text(store_yaml(capture=capture), encoding="utf-8")
    return path


def cart(api: httpx.Client, currency: str = "EUR") -> str:
    """An order for a tea set sent by post, to pay with Stripe (EUR to DE, JPY to JP)."""
    country = {"EUR": "DE", "JPY": "JP"}[currency]
    created = api.post("/v1/orders", json={},
                       headers={"Currency": currency, "Billing-Country": country})
    assert created.status_code == 200, created.text
    order_id = str(created.json()["id"])
    added = api.post(f"/v1/order/{order_id}",
                     json={"productReference": "tea-set", "quantity": 1})
    assert added.status_code == 200, added.text
    changed = api.patch(f"/v1/order/{order_id}", json={
        "paymentMethod": "stripe", "shippingMethod": "post",
        "customer": {"email": "erika@example.com"},
        "billingAddress": {"country": country}})
    assert changed.status_code == 200, changed.text
    return order_id


def signed(event: dict[str, Any], *, secret: str = WEBHOOK_SECRET,
           timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """A webhook body and headers signed the way Stripe signs them (the SDK's helper)."""
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)
    return body.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}


# --- processes -----------------------------------------------------------------------------


@contextmanager
def run_localstripe(folder: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "tests.integration.localstripe_server", "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with running(args, env, folder / "localstripe.log", f"{url}/js.stripe.com/v3/",
                  "localstripe"):
        yield url


@dataclass(frozen=True)
class StripeStack:
    kasse: str
    localstripe: str
    db: DbReader
    method_id: str
    folder: Path
    env: dict[str, str]

    def api(self) -> httpx.Client:
        """The storefront's server: Api-Key and Store on every request."""
        return httpx.Client(base_url=self.kasse + API, timeout=15,
                            headers={"Api-Key": API_KEY, "Store": STORE})

    @property
    def callback(self) -> str:
        return f"{self.kasse}{CALLBACK}/stripe-checkout/{self.method_id}"

    def stripe(self) -> stripe.StripeClient:
        """What the shopper's browser (Stripe.js) and the Stripe dashboard would do."""
        return stripe.StripeClient(SECRET_KEY, base_addresses={"api": self.localstripe},
                                   max_network_retries=0)

    def kasse_command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kasse", *args], env=self.env,
                              capture_output=True, text=True, timeout=120, check=False)


@contextmanager
def run_stripe_stack(db_url: str, folder: Path, *, capture: bool,
                     deliver_webhooks: bool = True) -> Iterator[StripeStack]:
    """localstripe and kasse (one worker), and the store; with ``deliver_webhooks``
    localstripe sends its payment intent events to kasse's callback URL."""
    with run_localstripe(folder) as localstripe:
        kasse_port = free_port()
        kasse = f"http://127.0.0.1:{kasse_port}"
        env = {**os.environ, "KASSE_DATABASE_URL": db_url, "KASSE_API_KEYS": API_KEY,
               "KASSE_DATA_DIR": str(folder), "KASSE_PUBLIC_URL": kasse,
               "KASSE_LOG_LEVEL": "warning", "KASSE_STRIPE_API_BASE": localstripe}
        loaded = subprocess.run(
            [sys.executable, "-m", "kasse", "import", str(write_store(folder, capture=capture))],
            env=env, capture_output=True, text=True, timeout=120, check=False)
        assert loaded.returncode == 0, f"import failed:\n{loaded.stdout}\n{loaded.stderr}"
        args = [sys.executable, "-m", "kasse", "serve", "--port", str(kasse_port),
                "--workers", "1"]
        with running(args, env, folder / "kasse.log", f"{kasse}/health", "kasse"):
            with httpx.Client(base_url=kasse + API, timeout=15,
                              headers={"Api-Key": API_KEY, "Store": STORE}) as client:
                method = client.get("/v1/paymentmethod/stripe")
                assert method.status_code == 200, method.text
            stack = StripeStack(kasse=kasse, localstripe=localstripe, db=DbReader(db_url),
                                method_id=str(method.json()["id"]), folder=folder, env=env)
            if deliver_webhooks:
                registered = httpx.post(
                    f"{localstripe}/_config/webhooks/kasse", timeout=15,
                    data={"url": stack.callback, "secret": WEBHOOK_SECRET,
                          "events[]": ["payment_intent.succeeded",
                                       "payment_intent.canceled"]})
                assert registered.status_code == 200, registered.text
            yield stack


def wait_until(probe: Any, what: str, timeout: float = 20.0) -> Any:
    return wait_for(probe, what, timeout=timeout, interval=0.1)
