"""``python -m kasse.payments.testgateway``: run the gateway with uvicorn."""

from __future__ import annotations

import argparse
import logging

from kasse.payments.testgateway.app import create_gateway_app
from kasse.payments.testgateway.models import GatewayConfig


def _merchant(value: str) -> tuple[str, str]:
    merchant, separator, secret = value.partition(":")
    if not separator or not merchant or not secret:
        raise argparse.ArgumentTypeError(f"expected MERCHANT:SECRET, got {value!r}")
    return merchant, secret


def _sources(value: str) -> str:
    # One CSP directive's sources: a ';' or line break would start another directive.
    if not value.strip() or any(char in value for char in ";,\r\n"):
        raise argparse.ArgumentTypeError(f"expected CSP sources such as 'self', got {value!r}")
    return value.strip()


def main(argv: list[str] | None = None) -> int:
    """Runs a gateway with uvicorn until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m kasse.payments.testgateway",
        description="Run the simulated payment gateway for tests and demos.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8090, help="port to listen on")
    parser.add_argument("--merchant", type=_merchant, action="append", required=True,
                        metavar="ID:SECRET",
                        help="a merchant and its signing secret (repeatable)")
    parser.add_argument("--webhook-delay", type=float, default=0.0,
                        help="seconds before webhooks are sent")
    parser.add_argument("--late-delay", type=float, default=2.0,
                        help='seconds before webhooks of the "late" behaviour are sent')
    parser.add_argument("--frame-ancestors", type=_sources, default="'none'",
                        metavar="SOURCES",
                        help="CSP sources of the shops that may frame the card page "
                             "(e.g. https://shop.example); default 'none'")
    parser.add_argument("--log-level", default="info",
                        choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)

    import uvicorn

    config = GatewayConfig(merchants=dict(args.merchant), webhook_delay=args.webhook_delay,
                           late_delay=args.late_delay, frame_ancestors=args.frame_ancestors)
    logging.basicConfig(level=args.log_level.upper())
    uvicorn.run(create_gateway_app(config), host=args.host, port=args.port,
                log_level=args.log_level, server_header=False)
    return 0

