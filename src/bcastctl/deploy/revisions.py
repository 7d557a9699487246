"""The revision history bcastctl keeps in each cluster.

A ConfigMap `bcastctl-revisions` in the fleet namespace holds the last KEEP applied
revisions of the region: each one's resolved manifests (gzip + base64 in binaryData)
and, in an annotation, its number, digest, image, time, source and gate result. It is
what `rollback` and a failed gate restore. The last failed attempt is noted too.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from bcastctl.adapters.kube import KubeClient, Manifest
from bcastctl.errors import ConfigError

CONFIGMAP: Final = "bcastctl-revisions"
KEEP: Final = 3
HISTORY_ANNOTATION: Final = "bcastctl.io/history"
ATTEMPT_ANNOTATION: Final = "bcastctl.io/last-failed-attempt"


@dataclass(frozen=True)
class Revision:
    number: int
    digest: str
    image: str
    applied_at: str
    source: str  # "deploy" | "rollback of N"
    gate: str  # "passed" | "skipped"
    manifests: list[Manifest] = field(repr=False)

    def meta(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "digest": self.digest,
            "image": self.image,
            "appliedAt": self.applied_at,
            "source": self.source,
            "gate": self.gate,
        }


@dataclass(frozen=True)
class FailedAttempt:
    """A deploy that failed its region and was rolled back (annotation ATTEMPT_ANNOTATION)."""

    digest: str  # of the manifests that failed
    image: str
    at: str  # UTC, as now() writes it
    failure: str  # the failure, one line

    def annotation(self) -> str:
        return json.dumps(
            {"digest": self.digest, "image": self.image, "at": self.at, "failure": self.failure}
        )

    @classmethod
    def from_annotation(cls, text: str) -> FailedAttempt:
        """Parse the annotation; ValueError / KeyError / TypeError when it is not one."""
        record = json.loads(text)
        return cls(
            digest=str(record["digest"]),
            image=str(record["image"]),
            at=str(record["at"]),
            failure=str(record["failure"]),
        )

    def describe(self) -> str:
        return f"{self.image} rolled back: {self.failure}"


@dataclass(frozen=True)
class History:
    revisions: list[Revision]  # oldest first
    last_failed_attempt: FailedAttempt | None = None

    @property
    def current(self) -> Revision | None:
        return self.revisions[-1] if self.revisions else None

    @property
    def previous(self) -> Revision | None:
        return self.revisions[-2] if len(self.revisions) >= 2 else None

    @property
    def next_number(self) -> int:
        return self.revisions[-1].number + 1 if self.revisions else 1


def digest(manifests: list[Manifest]) -> str:
    canonical = json.dumps(manifests, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def image_of(manifests: list[Manifest]) -> str:
    for doc in manifests:
        if doc["kind"] == "StatefulSet" and doc["metadata"]["name"].endswith("-broadcaster"):
            return str(doc["spec"]["template"]["spec"]["containers"][0]["image"])
    return ""


def now() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pack(manifests: list[Manifest]) -> str:
    raw = json.dumps(manifests, sort_keys=True, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode()


def _unpack(text: str) -> list[Manifest]:
    return list(json.loads(gzip.decompress(base64.b64decode(text))))


async def load(client: KubeClient, namespace: str) -> History:
    """The region's history (empty when bcastctl never deployed there)."""
    configmap = await client.get("v1", "ConfigMap", CONFIGMAP, namespace)
    if configmap is None:
        return History([])
    annotations = configmap["metadata"].get("annotations", {})
    binary = configmap.get("binaryData", {})
    try:
        revisions = [
            Revision(
                number=int(meta["number"]),
                digest=str(meta["digest"]),
                image=str(meta.get("image", "")),
                applied_at=str(meta.get("appliedAt", "")),
                source=str(meta.get("source", "deploy")),
                gate=str(meta.get("gate", "")),
                manifests=_unpack(binary[f"rev-{meta['number']}"]),
            )
            for meta in json.loads(annotations.get(HISTORY_ANNOTATION, "[]"))
            if f"rev-{meta['number']}" in binary
        ]
        attempt = annotations.get(ATTEMPT_ANNOTATION)
        failed = FailedAttempt.from_annotation(attempt) if attempt else None
    except (ValueError, KeyError, TypeError, OSError) as e:  # OSError: a broken gzip stream
        raise ConfigError(
            f"{client.name}: revision record {namespace}/{CONFIGMAP} is unreadable "
            f"({type(e).__name__}: {e})",
            hint=f"delete ConfigMap {namespace}/{CONFIGMAP} to start a new history "
            "(rollback then has nothing to go back to)",
        ) from e
    return History(revisions, failed)


def _configmap(namespace: str, fleet: str, history: History) -> Manifest:
    annotations = {
        HISTORY_ANNOTATION: json.dumps([r.meta() for r in history.revisions], sort_keys=True)
    }
    if history.last_failed_attempt:
        annotations[ATTEMPT_ANNOTATION] = history.last_failed_attempt.annotation()
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CONFIGMAP,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/part-of": fleet,
                "app.kubernetes.io/managed-by": "bcastctl",
            },
            "annotations": annotations,
        },
        "binaryData": {f"rev-{r.number}": _pack(r.manifests) for r in history.revisions},
    }


async def save(client: KubeClient, namespace: str, fleet: str, history: History) -> History:
    kept = History(history.revisions[-KEEP:], history.last_failed_attempt)
    await client.apply(_configmap(namespace, fleet, kept), force=True)
    return kept


def added(history: History, manifests: list[Manifest], source: str, gate: str) -> History:
    revision = Revision(
        number=history.next_number,
        digest=digest(manifests),
        image=image_of(manifests),
        applied_at=now(),
        source=source,
        gate=gate,
        manifests=manifests,
    )
    return History([*history.revisions, revision], None)
