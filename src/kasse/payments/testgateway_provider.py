"""kasse's side of the simulated test gateway (``kasse.payments.testgateway``).

The pay page posts a signed form to the gateway; the gateway sends the shopper back with
a signed query and tells kasse the outcome in signed webhooks. Either proves the payment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import httpx

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
    PaymentOperation,
    PaymentRefused,
    PaymentRequest,
    PaymentResult,
    ProviderError,
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
    local_app: Any = field(default=None, compare=False, repr=False)
    """The gateway kasse serves itself (``KASSE_TEST_GATEWAY``), reached in process when a
    method's ``GatewayUrl`` is empty."""

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
        try:
            amount = Decimal(query.get("amount", ""))
        except InvalidOperation:
            return None
        return PaymentResult(reference=reference, status=status, transaction_id=payment_id,
                             amount=amount, currency_code=query.get("currency"),
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
                currency_code=str(data["currency"]),
                metadata={"testGatewayPaymentId": payment_id})
        except (ValueError, KeyError, TypeError, InvalidOperation):
            raise CallbackRejected("the webhook body is not a test gateway event") from None
        return result if status is not None else None


    # --- the gateway's merchant API ----------------------------------------------------

    def _client(self, settings: Mapping[str, str]) -> httpx.AsyncClient:
        base = (settings.get("GatewayUrl") or "").rstrip("/")
        auth = {"Authorization": f"Bearer {settings.get('MerchantId', '')}:"
                                 f"{settings.get('SigningSecret', '')}"}
        if base.startswith(("http://", "https://")):
            return httpx.AsyncClient(base_url=base, headers=auth, timeout=15)
        if self.local_app is None:
            raise ProviderError("the test gateway is served by kasse's web process only; "
                                "set GatewayUrl to reach it from here")
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.local_app),
                                 base_url="http://testgateway.internal", headers=auth,
                                 timeout=15)

    async def _call(self, settings: Mapping[str, str], method: str, path: str,
                    body: dict[str, str] | None = None) -> dict[str, Any] | None:
        """One API call; the payment's JSON, ``None`` for a payment the gateway does not
        know. Raises ``PaymentRefused`` (4xx) or ``ProviderError`` (anything else)."""
        try:
            async with self._client(settings) as client:
                response = await client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ProviderError(f"the test gateway did not answer: {exc}") from None
        if response.status_code == 404:
            return None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if 400 <= response.status_code < 500:
            error = answer.get("error") if isinstance(answer, dict) else None
            raise PaymentRefused(str(error or f"the test gateway answered "
                                              f"{response.status_code}"))
        if response.status_code != 200 or not isinstance(answer, dict):
            raise ProviderError(f"the test gateway answered {response.status_code}")
        return answer

    @staticmethod
    def _payment_result(payment: dict[str, Any], reference: str | None = None
                        ) -> PaymentResult:
        status = STATUSES.get(str(payment.get("status")), PaymentStatus.INITIALIZED)
        try:
            amount = Decimal(str(payment.get("amount")))
        except InvalidOperation:
            raise ProviderError("the test gateway answered without an amount") from None
        payment_id = str(payment.get("payment_id", ""))
        return PaymentResult(reference=reference or str(payment.get("reference", "")),
                             status=status, transaction_id=payment_id, amount=amount,
                             currency_code=str(payment.get("currency", "")) or None,
                             metadata={"testGatewayPaymentId": payment_id})

    async def fetch_payment(self, settings: Mapping[str, str], transaction_id: str
                            ) -> PaymentResult | None:
        path = f"/api/payments/{quote(transaction_id, safe='')}"
        payment = await self._call(settings, "GET", path)
        return None if payment is None else self._payment_result(payment)

    async def _operate(self, operation: PaymentOperation, action: str,
                       body: dict[str, str] | None) -> PaymentResult:
        path = f"/api/payments/{quote(operation.transaction_id, safe='')}/{action}"
        payment = await self._call(operation.settings, "POST", path, body)
        if payment is None:
            raise PaymentRefused(f"the test gateway knows no payment "
                                 f"{operation.transaction_id!r}")
        return self._payment_result(payment, operation.reference)

    async def capture(self, operation: PaymentOperation) -> PaymentResult:
        body = None if operation.amount is None else {"amount": f"{operation.amount:f}"}
        return await self._operate(operation, "capture", body)

    async def cancel(self, operation: PaymentOperation) -> PaymentResult:
        return await self._operate(operation, "cancel", None)

    async def refund(self, operation: PaymentOperation) -> PaymentResult:
        body = None if operation.amount is None else {"amount": f"{operation.amount:f}"}
        return await self._operate(operation, "refund", body)


TEST_GATEWAY = TestGatewayProvider()
