"""Where a request came from, and whether that address may push to us.

``SMS_GATEWAY_ALLOWED_IPS`` (CIDRs, comma-separated) narrows the gateways' pushes to
their published callback addresses, on top of the shared secret.

Behind a reverse proxy the peer is the proxy. The client address is then worked out
once, by the WSGI server, never by the app: ``hotline serve`` passes
``server_options`` to waitress, which, for connections from
``HOTLINE_TRUSTED_PROXY_ADDR`` only, takes the client from ``X-Forwarded-For``
``HOTLINE_TRUSTED_PROXIES`` hops from the right (entries further left are whatever the
client sent: never believed) and puts it in ``REMOTE_ADDR``; from any other peer the
header is removed. So ``request.remote_addr`` is the client for every caller: this
allowlist, audit rows, the login throttle. Reading ``X-Forwarded-For`` here as well
would count the proxies twice (and waitress strips the header unless it trusts the
peer, so it could not work anyway).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from flask import Request

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_proxies(config: Mapping[str, Any]) -> int:
    try:
        return max(0, int(config.get("HOTLINE_TRUSTED_PROXIES") or 0))
    except (TypeError, ValueError):
        log.error("HOTLINE_TRUSTED_PROXIES must be a whole number: trusting no proxy")
        return 0


def trusted_proxy_addr(config: Mapping[str, Any]) -> str:
    """The proxy's address as waitress compares it with the peer (``*``: any peer).
    ValueError when it is neither: the server should not start half-trusting."""
    value = str(config.get("HOTLINE_TRUSTED_PROXY_ADDR") or "").strip()
    if value == "*":
        return value
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(
            f"HOTLINE_TRUSTED_PROXY_ADDR must be the proxy's IP address or *, not {value!r}"
        ) from None


def server_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """waitress.serve keyword arguments for ``HOTLINE_TRUSTED_PROXIES``. With 0 none:
    waitress's default then drops ``X-Forwarded-*`` and the peer is the client."""
    count = trusted_proxies(config)
    if count == 0:
        return {}
    return {
        "trusted_proxy": trusted_proxy_addr(config),
        "trusted_proxy_count": count,
        "trusted_proxy_headers": {"x-forwarded-for"},
        "clear_untrusted_proxy_headers": True,
    }


def client_ip(request: Request) -> str | None:
    """The client's address: the peer, or the one the server took from the trusted
    proxy's ``X-Forwarded-For`` (see the module docstring)."""
    return request.remote_addr


@lru_cache(maxsize=32)
def parse_networks(setting: str) -> tuple[Network, ...] | None:
    """The CIDRs in ``setting``; None when one of them is not an address or network."""
    networks = []
    for part in setting.split(","):
        if not part.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(part.strip(), strict=False))
        except ValueError:
            return None
    return tuple(networks)


def allowed(request: Request, config: Mapping[str, Any], setting: str) -> bool:
    """True when ``setting`` is empty (no allowlist) or the client is inside it.
    A malformed allowlist refuses everything: failing open would hide the mistake."""
    value = str(config.get(setting) or "").strip()
    if not value:
        return True
    networks = parse_networks(value)
    if networks is None:
        log.error("%s is not a comma-separated list of CIDRs: refusing pushes", setting)
        return False
    ip = client_ip(request)
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        log.warning("push from an unknown address refused (%s)", setting)
        return False
    if any(address in network for network in networks):
        return True
    log.warning("push from %s refused: not in %s", address, setting)
    return False
