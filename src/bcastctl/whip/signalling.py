"""How a WHIP/WHEP offer reaches a node, and the one typed error for a refused exchange.

A `Signalling` sends one HTTP request to one node's signalling endpoint and returns
the answer, whatever the status. `HttpSignalling` does it with aiohttp to a base URL
(tests, bench, the lab); the checks adapt a Target's `request` to the same protocol.
A redirect (307/308) is followed by the client (`Signalling.follow`).
A status other than the expected one becomes a `WhipError` in exactly one place
(`client`), carrying the status and the node's one-line reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bcastctl.errors import OperationFailed, UnreachableError
from bcastctl.model import HttpResponse

if TYPE_CHECKING:
    import aiohttp


class Signalling(Protocol):
    """One node's signalling endpoint (`/api/whip`, `/api/whep`, `/api/resource/<id>`)."""

    @property
    def url(self) -> str:
        """The base URL, as a human reads it (error messages)."""
        ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> HttpResponse:
        """One request; UnreachableError on no answer within timeout_s, any status returned
        (a redirect too: the client follows it with `follow`)."""
        ...

    def follow(self, location: str) -> Signalling | None:
        """The endpoint at a redirect's absolute `location` (RFC 9725 section 4.5: WHIP
        clients follow redirects), or None when this transport cannot reach other origins."""
        ...


@dataclass(frozen=True)
class HttpSignalling:
    """A node's signalling endpoint reached directly with aiohttp at `url` (http://host:port)."""

    http: aiohttp.ClientSession
    url: str

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> HttpResponse:
        import aiohttp

        url = self.url + path
        try:
            async with self.http.request(
                method,
                url,
                data=body,
                headers=dict(headers or {}),
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                return HttpResponse(response.status, await response.read(), url, response.headers)
        except (TimeoutError, aiohttp.ClientError) as e:
            raise UnreachableError(f"{url}: no answer within {timeout_s:g} s ({e!r})") from e

    def follow(self, location: str) -> HttpSignalling | None:
        from urllib.parse import urlsplit

        parts = urlsplit(location)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None
        return HttpSignalling(self.http, f"{parts.scheme}://{parts.netloc}")


class WhipError(OperationFailed):
    """A node refused a WHIP/WHEP exchange: `status` and the node's one-line `reason`."""

    def __init__(self, url: str, status: int, reason: str) -> None:
        super().__init__(f"{url}: HTTP {status} {reason}".rstrip())
        self.url = url
        self.status = status
        self.reason = reason

    @classmethod
    def from_answer(cls, answer: HttpResponse) -> WhipError:
        return cls(answer.url, answer.status, one_line_reason(answer.body))


def one_line_reason(body: bytes) -> str:
    """The node's reason: its JSON `error`, else the first line of the body (bounded)."""
    text = body[:4096].decode(errors="replace").strip()
    try:
        decoded = json.loads(text)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
        text = decoded["error"]
    lines = text.splitlines()
    return lines[0][:200] if lines else ""
