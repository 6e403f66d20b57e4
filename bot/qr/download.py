"""Fetch a photo a provider holds for us (Twilio MMS media, WeChat PicUrl), safely.

Only URLs the provider put in its signed/verified webhook reach here, and even those
must be on the configured media-host allowlist: a URL a villager typed, or a redirect
to any other host, is never requested (no server-side request forgery through us).
The size cap is enforced while streaming, not trusted from Content-Length.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

MAX_REDIRECTS = 3
CHUNK = 64 * 1024


class DownloadError(Exception):
    """Why a photo was not fetched; ``reason`` is one of the REASONS below."""

    REASONS = ("host_not_allowed", "too_large", "not_image", "timeout", "http_error")

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Downloaded:
    data: bytes
    content_type: str


class _Watchdog(threading.Timer):
    fired: threading.Event


def _cut_at(response: requests.Response, deadline: float) -> _Watchdog:
    """A started timer that shuts the response's socket at ``deadline`` (a blocked read
    then returns or raises at once)."""
    fired = threading.Event()

    def cut() -> None:
        fired.set()
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
        try:
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        response.close()

    timer = _Watchdog(max(0.0, deadline - time.monotonic()), cut)
    timer.fired = fired
    timer.daemon = True
    timer.start()
    return timer


def _session() -> requests.Session:
    return requests.Session()


_AMBIGUOUS = re.compile(r"[\\\s\x00-\x1f\x7f]")


def parse_hosts(value: str | Iterable[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    return tuple(h.strip().lower().rstrip(".") for h in items if h and h.strip())


def host_allowed(url: str, allowlist: Iterable[str]) -> bool:
    """True for http(s) URLs without credentials whose host is listed (``*.x`` = any
    subdomain of x, not x itself), on the default port unless the entry names one
    (``host:port``, for a local test server)."""
    # Parsers disagree on odd URLs ("http://127.0.0.1\\.qpic.cn/" is qpic.cn to urlsplit
    # but 127.0.0.1 to urllib3, which sends the request): refuse anything they could
    # read differently, and check the host the HTTP client itself will connect to.
    if _AMBIGUOUS.search(url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
        connect_host = (parse_url(url).host or "").lower().rstrip(".")
    except (ValueError, LocationParseError):
        return False
    if parts.scheme not in ("http", "https") or parts.username or parts.password:
        return False
    host = (parts.hostname or "").rstrip(".")
    if not host or host != connect_host:
        return False
    for entry in allowlist:
        name, _, entry_port = entry.partition(":")
        allowed_ports = {entry_port} if entry_port else {"", "80", "443"}
        if ("" if port is None else str(port)) not in allowed_ports:
            continue
        if name.startswith("*."):
            if host.endswith(name[1:]) and host != name[2:]:
                return True
        elif host == name:
            return True
    return False


def fetch_image(
    url: str,
    *,
    allowlist: Iterable[str],
    max_bytes: int,
    timeout: float,
    auth: tuple[str, str] | None = None,
    auth_hosts: Iterable[str] = (),
    session: requests.Session | None = None,
) -> Downloaded:
    """The image at ``url``; DownloadError otherwise. ``auth`` is sent only to hosts
    in ``auth_hosts`` (Twilio's API host), never along a redirect elsewhere."""
    allowlist = parse_hosts(allowlist)
    auth_hosts = parse_hosts(auth_hosts)
    deadline = time.monotonic() + timeout
    for _hop in range(MAX_REDIRECTS + 1):
        if not host_allowed(url, allowlist):
            raise DownloadError("host_not_allowed", urlsplit(url).hostname or "")
        host = (urlsplit(url).hostname or "").rstrip(".")
        session = session or _session()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DownloadError("timeout")
        try:
            response = session.get(
                url,
                stream=True,
                allow_redirects=False,
                timeout=(min(remaining, 5.0), remaining),
                auth=auth if auth and host in auth_hosts else None,
                headers={"Accept": "image/*"},
            )
        except requests.Timeout:
            raise DownloadError("timeout") from None
        except requests.RequestException as exc:
            raise DownloadError("http_error", type(exc).__name__) from None
        with response:
            if response.is_redirect:
                location = response.headers.get("Location", "")
                url = urljoin(url, location)
                continue
            if response.status_code != 200:
                raise DownloadError("http_error", f"HTTP {response.status_code}")
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            if not content_type.lower().startswith("image/"):
                raise DownloadError("not_image", content_type)
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise DownloadError("too_large", length)
            data = bytearray()
            # The read timeout is per socket read: a sender dripping a byte a second
            # never trips it. A watchdog cuts the connection at the deadline instead.
            watchdog = _cut_at(response, deadline)
            try:
                for chunk in response.iter_content(CHUNK):
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise DownloadError("too_large")
                    if time.monotonic() > deadline:
                        raise DownloadError("timeout")
            except (requests.RequestException, OSError, ValueError) as exc:
                if watchdog.fired.is_set() or time.monotonic() > deadline:
                    raise DownloadError("timeout") from None
                raise DownloadError("http_error", type(exc).__name__) from None
            finally:
                watchdog.cancel()
            if watchdog.fired.is_set():
                raise DownloadError("timeout")  # cut mid-body: what came is not the photo
            return Downloaded(bytes(data), content_type.lower())
    raise DownloadError("http_error", "too many redirects")
