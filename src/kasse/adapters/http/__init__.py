"""Outbound HTTP: what kasse sends to other servers."""
