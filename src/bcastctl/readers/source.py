"""Where a monitoring document comes from: a `JsonSource` answers GET <path> with JSON.

Every failure (no answer within the deadline, a non-2xx status, a body that is not
JSON, a body over the size bound) is one `UnreachableError` naming the URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bcastctl.errors import HttpStatusError, UnreachableError

if TYPE_CHECKING:
    import aiohttp

MAX_BODY_BYTES = 8 * 1024 * 1024  # a /connz of a busy server is large; anything bigger is wrong


class JsonSource(Protocol):
    """A monitoring or admin endpoint: `url` for messages, `get_json(path)` for documents."""

    @property
    def url(self) -> str: ...

    async def get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET `path` and decode JSON; UnreachableError naming the URL."""
        ...


@dataclass(frozen=True)
class UrlSource:
    """An endpoint reached directly with aiohttp at `url` (http://host:port)."""

    http: aiohttp.ClientSession
    url: str
    timeout_s: float = 2.0

    async def get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        import aiohttp

        url = self.url + path
        try:
            async with self.http.get(
                url, params=params, timeout=aiohttp.ClientTimeout(total=self.timeout_s)
            ) as response:
                body = await response.content.read(MAX_BODY_BYTES + 1)
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as e:
            raise UnreachableError(f"{url}: no answer within {self.timeout_s:g} s ({e!r})") from e
        return decode(url, status, body)


def decode(url: str, status: int, body: bytes) -> Any:
    """The JSON of an answer, or the one UnreachableError that says what was wrong with it."""
    if not 200 <= status < 300:
        raise HttpStatusError(url, status)
    if len(body) > MAX_BODY_BYTES:
        raise UnreachableError(f"{url}: answer larger than {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise UnreachableError(f"{url}: answered HTTP {status} with a body that is not JSON") from e
