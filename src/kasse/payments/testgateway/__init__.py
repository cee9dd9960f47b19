"""A simulated hosted-payment gateway, so checkouts can be tested end to end over HTTP.

``create_gateway_app(GatewayConfig(merchants={"demo": "secret"}))`` is a Starlette app;
``python -m kasse.payments.testgateway --merchant demo:secret`` serves one. The signing
functions are shared with the merchant side.
"""

from kasse.payments.testgateway.app import GatewayConfig, create_gateway_app
from kasse.payments.testgateway.cards import APPROVE, DECLINE, ERROR, luhn_valid
from kasse.payments.testgateway.signing import (
    WEBHOOK_SIGNATURE_HEADER,
    sign_fields,
    sign_return,
    sign_webhook,
    verify_fields,
    verify_return,
    verify_webhook,
)

__all__ = [
    "APPROVE",
    "DECLINE",
    "ERROR",
    "WEBHOOK_SIGNATURE_HEADER",
    "GatewayConfig",
    "create_gateway_app",
    "luhn_valid",
    "sign_fields",
    "sign_return",
    "sign_webhook",
    "verify_fields",
    "verify_return",
    "verify_webhook",
]
