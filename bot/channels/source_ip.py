"""Where a webhook request came from, and whether that address may push to us.

``SMS_GATEWAY_ALLOWED_IPS`` (CIDRs, comma-separated) narrows the gateways' pushes to
their published callback addresses, on top of the shared secret. Behind a reverse
proxy the peer is the proxy: set ``HOTLINE_TRUSTED_PROXIES`` to the number of proxies
in front of the app, and the client is read from ``X-Forwarded-For`` that many hops
from the right (the entries further left are whatever the client sent: never trusted).
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


def client_ip(request: Request, proxies: int) -> str | None:
    """The client's address; None when the proxies' header is missing or too short
    (a misconfigured proxy, or a client reaching the app around it)."""
    if proxies <= 0:
        return request.remote_addr
    hops = [
        part.strip()
        for header in request.headers.getlist("X-Forwarded-For")
        for part in header.split(",")
        if part.strip()
    ]
    if len(hops) < proxies:
        return None
    return hops[-proxies]


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
    ip = client_ip(request, trusted_proxies(config))
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        log.warning("push from an unknown address refused (%s)", setting)
        return False
    if any(address in network for network in networks):
        return True
    log.warning("push from %s refused: not in %s", address, setting)
    return False
