"""Where shoppers and gateways reach kasse: the base of every absolute URL kasse hands out
(``payUrl``, the gateway's continue, cancel, error and callback URLs, inline checkout's
``urls``).

A request's ``Host`` header is whatever its sender wrote. Built from it, a pay URL or a
gateway's webhook address could point at a host an attacker named, and be cached or
passed on as kasse's. So the base URL comes from configuration: ``KASSE_PUBLIC_URL``, or
a ``Host`` the operator listed in ``KASSE_ALLOWED_HOSTS``; failing both, the address the
connection actually reached (the server socket's own host and port, which no header
changes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import Scope

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True, slots=True)
class PublicAddress:
    configured: str = ""
    """``KASSE_PUBLIC_URL`` without its trailing slash; empty when unset."""
    allowed_hosts: frozenset[str] = frozenset()
    """Lower-case ``host[:port]`` names whose requests get URLs on their own host."""

    @classmethod
    def of(cls, public_url: str, allowed_hosts: Iterable[str] = ()) -> PublicAddress:
        return cls(public_url.strip().rstrip("/"),
                   frozenset(host.strip().lower() for host in allowed_hosts if host.strip()))

    def base_url(self, scope: Scope) -> str:
        """``scheme://host[:port][root path]`` of kasse for URLs in the answer to ``scope``."""
        if self.configured:
            return self.configured
        scheme = str(scope.get("scheme") or "http")
        host = self._allowed_host(scope, scheme) or _listening_address(scope, scheme)
        root = str(scope.get("app_root_path", scope.get("root_path", "")) or "").rstrip("/")
        return f"{scheme}://{host}{root}"

    def _allowed_host(self, scope: Scope, scheme: str) -> str | None:
        if not self.allowed_hosts:
            return None
        sent = next((value for key, value in scope.get("headers") or () if key == b"host"),
                    None)
        if not sent:
            return None
        host: str = sent.decode("latin-1").strip().lower()
        default = f":{_DEFAULT_PORTS.get(scheme, 80)}"
        if host in self.allowed_hosts:
            return host
        if host.endswith(default) and host[:-len(default)] in self.allowed_hosts:
            return host[:-len(default)]
        return None


def _listening_address(scope: Scope, scheme: str) -> str:
    server = scope.get("server")
    host = str(server[0]) if server else ""
    if not host or "/" in host:  # a UNIX socket's path is no address to give out
        return "localhost"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = server[1] if server else None  # None: the scheme's default port
    return host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
