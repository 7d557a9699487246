"""Reading a bundle back in tests: every file's text, the manifest, the JSON parts."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

ROOT = "bcastctl-bundle/"


def bundle_files(path: Path) -> dict[str, bytes]:
    """Every member of the archive: name below the root -> raw bytes."""
    with tarfile.open(path, "r:gz") as tar:
        return {
            member.name.removeprefix(ROOT): tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
            if member.isfile()
        }


def bundle_json(files: dict[str, bytes], name: str) -> Any:
    return json.loads(files[name])


def leaks(files: dict[str, bytes], secrets: list[str]) -> list[tuple[str, str]]:
    """(file, secret) for every planted secret found anywhere, raw bytes searched."""
    return [
        (name, secret)
        for name, data in files.items()
        for secret in secrets
        if secret.encode() in data
    ]
