"""kasse: a headless commerce checkout server speaking the Umbraco Commerce Storefront API."""

__version__ = "0.1.0"
