"""A small demo storefront served by kasse at ``/demo`` when the demo store is loaded.

It shows the three ways to pay (hosted Framed, hosted Redirect, inline) in a real browser,
and does what a real storefront's server does: it calls the Storefront API with the
``Api-Key`` on the server side, and keeps the cart's order id in a signed cookie.
"""

from kasse.storefront_demo.app import DEMO_PATH, create_demo_app, open_demo

__all__ = ["DEMO_PATH", "create_demo_app", "open_demo"]
