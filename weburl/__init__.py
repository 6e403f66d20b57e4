"""Where a link really goes, read as a browser reads it (the WHATWG URL standard, through
ada), and whether the printed text could mislead a person about that.

One place for every part of the hotline that judges a URL it will never open (a QR
code's text, a link in a scam message) or a redirect target it will answer with.
Python's ``urlsplit`` is not used for such judgements: it reads
``https://evil.test\\@nhsa.gov.cn/`` as nhsa.gov.cn, a browser goes to evil.test.

No imports from the rest of the project: any layer may use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import ada_url

# Characters a browser removes or rewrites silently (tab, newline, backslash in
# special schemes): a link containing them does not go where it reads.
_REWRITTEN = re.compile(r"[\\\t\n\r]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\s]")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# A base for resolving redirect targets: only its host matters, and it can never be real.
_OUR_ORIGIN = "https://hotline.invalid"


@dataclass(frozen=True)
class Link:
    """A parsed link: ``host`` is where a browser connects (lowercase, no trailing
    dot); ``suspicious`` names every way the text could mislead (empty when plain)."""

    scheme: str
    host: str
    port: str
    path: str
    query: str
    fragment: str
    is_ip: bool
    suspicious: tuple[str, ...] = field(default=())

    @property
    def ambiguous(self) -> bool:
        return bool(self.suspicious)


def parse_link(text: str) -> Link | None:
    """The link as a browser reads ``text`` (an absolute URL), or None when a browser
    would refuse it."""
    raw = text.strip()
    try:
        url = ada_url.URL(raw)
    except ValueError:
        return None
    scheme = url.protocol.rstrip(":").lower()
    host = url.hostname.lower()
    reasons: list[str] = []
    if _REWRITTEN.search(raw):
        reasons.append("rewritten_characters")  # "\" read as "/", tabs dropped
    if _CONTROL.search(raw):
        reasons.append("control_characters")
    if url.username or url.password or "@" in _authority(raw):
        reasons.append("userinfo")  # "https://nhsa.gov.cn@evil.test/"
    if url.port and url.port != _DEFAULT_PORTS.get(scheme):
        reasons.append("odd_port")
    if "%" in _authority(raw):
        reasons.append("percent_encoded_host")
    if not raw.isascii() and not _authority(raw).isascii():
        reasons.append("non_ascii_host")  # look-alike letters, full-width dots
    if any(label.startswith("xn--") for label in host.split(".")):
        reasons.append("punycode_host")
    is_ip = _is_ip(url)
    if is_ip:
        reasons.append("ip_host")
    if scheme in _DEFAULT_PORTS and _naive_host(raw) != host.rstrip("."):
        # Another parser (Python's, a phone's) reads a different host.
        reasons.append("parsers_disagree")
    return Link(
        scheme=scheme,
        host=host.rstrip("."),
        port=url.port,
        path=url.pathname,
        query=url.search,
        fragment=url.hash,
        is_ip=is_ip,
        suspicious=tuple(dict.fromkeys(reasons)),
    )


def _authority(raw: str) -> str:
    """The text between "scheme://" and the next "/", "?" or "#" (as printed; a
    backslash counts as a separator, as in a browser)."""
    _, sep, rest = raw.partition("://")
    if not sep:
        return ""
    return re.split(r"[/\\?#]", rest, maxsplit=1)[0]


def _naive_host(raw: str) -> str:
    try:
        return (urlsplit(raw).hostname or "").rstrip(".")
    except ValueError:
        return ""


def _is_ip(url: ada_url.URL) -> bool:
    host_type = getattr(url, "host_type", None)
    if host_type is not None:
        return host_type != ada_url.HostType.DEFAULT
    host = url.hostname
    return host.startswith("[") or bool(re.fullmatch(r"[\d.]+", host))


def under(host: str, domains: Iterable[str]) -> bool:
    """True when ``host`` is one of ``domains`` or a subdomain of one."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


def host_is_under(text: str, domains: Iterable[str]) -> bool:
    """True only when a browser would go to one of ``domains`` (or a subdomain) and the
    text reads unambiguously: the one check for "is this link really official"."""
    link = parse_link(text)
    return bool(
        link
        and link.scheme in ("http", "https")
        and not link.ambiguous
        and under(link.host, [d.lower().rstrip(".") for d in domains])
    )


def same_site_path(target: str | None) -> str | None:
    """``target`` as the path on this site a browser would go to when told
    ``Location: target``, or None when it would leave the site (``//evil``,
    ``/\\evil``, ``https://…``, ``javascript:``, tab/newline tricks)."""
    if not target or not target.isprintable() or "\\" in target:
        return None
    try:
        url = ada_url.URL(target, base=_OUR_ORIGIN + "/")
    except ValueError:
        return None
    if url.origin != _OUR_ORIGIN or not target.startswith("/"):
        return None
    path = url.pathname
    resolved = path + url.search + url.hash
    # Only a target that is already what the browser would resolve it to: "/a/../b",
    # "%2e%2e", "/.//evil" (which resolves to the path "//evil", another host as a
    # Location) and doubled slashes are refused rather than guessed at.
    if resolved != target or not path.startswith("/") or "//" in path:
        return None
    return resolved
