"""The host a link really goes to, parsed as a browser would (WHATWG URL standard).

A hand-written parser disagrees with browsers on exactly the links scammers craft:
``http://gov.cn@evil.com``, ``http://0x7f.1``, full-width dots, Unicode look-alikes.
ada-url implements the standard; the host it returns is lower-case, IDNA (punycode)
encoded, and IPv4 in dotted form however it was spelled.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import ada_url


@dataclass(frozen=True)
class Host:
    name: str  # lower case, punycode for non-ASCII labels, no trailing dot
    is_ip: bool
    scheme: str  # "http", "https", ...


def host_of(link: str) -> Host | None:
    """The host of ``link`` (a scheme is assumed when missing), or None when it is no URL."""
    text = link.strip()
    if "://" not in text:
        text = "http://" + text  # "t.cn/abc" printed without a scheme is still a link
    try:
        parsed = ada_url.parse_url(text)
    except ValueError:
        return None
    name = str(parsed["hostname"]).rstrip(".").lower()
    if not name:
        return None
    bare = name.strip("[]")
    try:
        ipaddress.ip_address(bare)
        is_ip = True
    except ValueError:
        is_ip = False
    return Host(bare if is_ip else name, is_ip, str(parsed["protocol"]).rstrip(":"))


def under(host: str, domains: tuple[str, ...] | frozenset[str]) -> bool:
    """``host`` is one of ``domains`` or a subdomain of one."""
    return any(host == d or host.endswith("." + d) for d in domains)
