"""HTTP: the Storefront API wire protocol on FastAPI."""
