"""kasse's side of the simulated test gateway (``kasse.payments.testgateway``).

The pay page posts a signed form to the gateway; the gateway sends the shopper back with
a signed query and tells kasse the outcome in signed webhooks. Either proves the payment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from kasse.domain.money import round_to
from kasse.domain.payment import PaymentStatus
from kasse.payments.builtin import RETURN_SETTINGS
from kasse.payments.provider import (
    CANCEL,
    CAPTURE,
    FETCH_STATUS,
    REFUND,
    CallbackRejected,
    HostedForm,
    MetaDataDefinition,
    PaymentRequest,
    PaymentResult,
    SettingDefinition,
)
from kasse.payments.testgateway.signing import (
    WEBHOOK_SIGNATURE_HEADER,
    sign_fields,
    verify_return,
    verify_webhook,
)

MOUNT_PATH = "/testgateway"
"""Where kasse serves the gateway itself when ``KASSE_TEST_GATEWAY`` is on."""

STATUSES = {
    "authorized": PaymentStatus.AUTHORIZED,
    "captured": PaymentStatus.CAPTURED,
    "cancelled": PaymentStatus.CANCELLED,
    "declined": PaymentStatus.ERROR,
    "error": PaymentStatus.ERROR,
    "refunded": PaymentStatus.REFUNDED,
    "partially_refunded": PaymentStatus.PARTIALLY_REFUNDED,
}


def _gateway_url(value: str) -> str | None:
    if not value or value.startswith(("http://", "https://", "/")):
        return None
    return "must be an http(s) URL or a path starting with / (empty: kasse's own)"


@dataclass(frozen=True)
class TestGatewayProvider:
    alias: str = "testgateway"
    settings: tuple[SettingDefinition, ...] = (
        SettingDefinition("GatewayUrl", "Gateway URL", check=_gateway_url,
                          description="Base URL of the test gateway; empty for the one kasse "
                                      f"serves at {MOUNT_PATH}"),
        SettingDefinition("MerchantId", "Merchant id", required=True),
        SettingDefinition("SigningSecret", "Signing secret", secret=True, required=True,
                          description="Shared secret signing requests, returns and webhooks"),
        *RETURN_SETTINGS,
    )
    metadata: tuple[MetaDataDefinition, ...] = (
        MetaDataDefinition("testGatewayPaymentId", "Test gateway payment id"),
    )
    capabilities: frozenset[str] = field(
        default_factory=lambda: frozenset({CAPTURE, CANCEL, REFUND, FETCH_STATUS}))
    finalizes_at_continue: bool = True

    def hosted_form(self, request: PaymentRequest) -> HostedForm:
        settings = request.settings
        base = (settings.get("GatewayUrl") or MOUNT_PATH).rstrip("/")
        amount = round_to(request.amount, request.decimal_places)
        fields = {
            "merchant": settings.get("MerchantId", ""),
            "reference": request.reference,
            "amount": f"{amount:f}",
            "currency": request.currency_code,
            "description": request.description,
            "success_url": request.urls.continue_url,
            "cancel_url": request.urls.cancel_url,
            "error_url": request.urls.error_url,
            "webhook_url": request.urls.callback_url,
        }
        # The gateway refuses line breaks in signed fields (they would make the signed
        # text ambiguous), so none are sent.
        fields = {key: " ".join(value.split()) if key == "description" else value
                  for key, value in fields.items()}
        fields["signature"] = sign_fields(settings.get("SigningSecret", ""), fields)
        return HostedForm(action=f"{base}/pay", method="POST", fields=fields)

    def verify_return(self, settings: Mapping[str, str], query: Mapping[str, str],
                      reference: str) -> PaymentResult | None:
        if not verify_return(settings.get("SigningSecret", ""), query):
            return None
        if query.get("reference") != reference:
            return None
        status = STATUSES.get(query.get("status", ""))
        if status is None:
            return None
        payment_id = query.get("payment_id")
        return PaymentResult(reference=reference, status=status, transaction_id=payment_id,
                             metadata={"testGatewayPaymentId": payment_id or ""})

    def parse_callback(self, settings: Mapping[str, str], body: bytes,
                       headers: Mapping[str, str]) -> PaymentResult | None:
        header = headers.get(WEBHOOK_SIGNATURE_HEADER.lower()) or headers.get(
            WEBHOOK_SIGNATURE_HEADER)
        if not verify_webhook(settings.get("SigningSecret", ""), body, header):
            raise CallbackRejected("the webhook signature does not verify")
        try:
            event = json.loads(body)
            data = event["data"]
            status = STATUSES.get(str(data["status"]))
            payment_id = str(data["payment_id"])
            result = PaymentResult(
                reference=str(data["reference"]), status=status or PaymentStatus.ERROR,
                transaction_id=payment_id, amount=Decimal(str(data["amount"])),
                fee=Decimal(str(data.get("fee") or "0")), event_id=str(event["id"]),
                metadata={"testGatewayPaymentId": payment_id})
        except (ValueError, KeyError, TypeError, InvalidOperation):
            raise CallbackRejected("the webhook body is not a test gateway event") from None
        return result if status is not None else None


TEST_GATEWAY = TestGatewayProvider()
