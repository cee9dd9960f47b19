"""Adapters to the outside world: database, outbound HTTP, configuration files."""
