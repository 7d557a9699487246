"""`bcastctl node drain`: ask a node to drain (POST /api/drain) and wait until it is done.

The pod's preStop hook runs it, so Kubernetes sends SIGTERM only once the node has no
session left or its drain deadline has passed (terminationGracePeriodSeconds covers the
deadline, render/manifests.py). Standard library only: it runs inside the node's image.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from bcastctl.errors import UnreachableError

POLL_S = 0.5


def _post(url: str) -> dict[str, object] | None:
    """The drain answer, or None when the node is gone (it exits once drained)."""
    request = urllib.request.Request(url, method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            answer = json.loads(response.read() or b"{}")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    except ValueError:
        raise UnreachableError(f"{url}: the answer is not JSON") from None
    return answer if isinstance(answer, dict) else {}


def drain_and_wait(admin_url: str) -> int:
    url = admin_url.rstrip("/") + "/api/drain"
    answer = _post(url)
    if answer is None:
        raise UnreachableError(f"{url}: no answer (is the node running?)")
    while answer is not None:
        sessions, left = answer.get("sessions"), answer.get("deadline_s")
        if sessions == 0 or not isinstance(left, int | float) or left <= 0:
            return 0
        time.sleep(POLL_S)
        answer = _post(url)
    return 0
