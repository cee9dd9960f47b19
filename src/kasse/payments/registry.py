"""Payment providers by alias: the built-in ones and any installed plugin.

A plugin package registers its provider in its own ``pyproject.toml``::

    [project.entry-points."kasse.payment_providers"]
    mygateway = "mygateway.kasse:provider"

where ``provider`` is an object following :class:`kasse.payments.provider.PaymentProvider`
(or a callable returning one).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import entry_points

from kasse.payments.builtin import INVOICING, ZERO_VALUE
from kasse.payments.provider import PaymentProvider
from kasse.payments.testgateway_provider import TEST_GATEWAY

ENTRY_POINT_GROUP = "kasse.payment_providers"
log = logging.getLogger("kasse.payments")


class UnknownProvider(LookupError):
    pass


class ProviderRegistry:
    def __init__(self, providers: Iterable[PaymentProvider] = ()) -> None:
        self._providers: dict[str, PaymentProvider] = {}
        for provider in providers:
            self.register(provider)

    def register(self, provider: PaymentProvider) -> None:
        if not isinstance(provider, PaymentProvider):
            raise TypeError(f"{provider!r} does not follow the PaymentProvider protocol")
        self._providers[provider.alias.lower()] = provider

    def get(self, alias: str) -> PaymentProvider:
        provider = self._providers.get(alias.lower())
        if provider is None:
            raise UnknownProvider(f"no payment provider {alias!r} is installed")
        return provider

    def aliases(self) -> list[str]:
        return sorted(p.alias for p in self._providers.values())

    @classmethod
    def with_installed(cls) -> ProviderRegistry:
        """The built-in providers plus every plugin registered under the entry point group."""
        registry = cls([INVOICING, ZERO_VALUE, TEST_GATEWAY])
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = entry.load()
                provider = loaded() if callable(loaded) and not isinstance(
                    loaded, PaymentProvider) else loaded
                registry.register(provider)
            except Exception:  # a broken plugin must not stop the shop
                log.exception("payment provider plugin %s could not be loaded", entry.name)
        return registry
