"""The bundle file: a gzipped tar written part by part, every text redacted and bounded.

Layout (all under `bcastctl-bundle/`):
  manifest.json            what was collected, per region what could not be reached and why
  fleet.yaml               the fleet (Secret names only, never values)
  verify-mesh.json         the `verify mesh -o json` envelope at bundle time
  probe-rtt.json           the `probe rtt -o json` envelope at bundle time
  timeline.jsonl           events and notable log lines of every region, ordered by time
  regions/<r>/nats/<server>/{varz,gatewayz,routez,connz}.json
  regions/<r>/nodes/<node>/{cluster.json,metrics.txt}
  regions/<r>/{pods,events}.json, logs/<pod>/<container>.log, diff.txt    (clusters)
  regions/<r>/logs/<process>.log, lab-state.json                          (the lab)
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

from bcastctl.bundle.redact import Redactor
from bcastctl.errors import ConfigError

ROOT = "bcastctl-bundle"
MAX_FILE_BYTES = 4 * 1024 * 1024  # a file beyond this is cut, with a note at its end


class BundleWriter:
    def __init__(self, path: Path, redactor: Redactor) -> None:
        self.path = path
        self.redactor = redactor
        self.files: list[str] = []
        try:
            self._tar = tarfile.open(path, "w:gz")  # noqa: SIM115 - closed in close()
        except OSError as e:
            raise ConfigError(f"-f {path}: cannot write: {e.strerror or e}") from e

    def text(self, name: str, text: str) -> None:
        data = self.redactor.text(text).encode()
        if len(data) > MAX_FILE_BYTES:
            data = data[:MAX_FILE_BYTES] + b"\n[cut: more than 4 MiB]\n"
        info = tarfile.TarInfo(f"{ROOT}/{name}")
        info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
        self._tar.addfile(info, io.BytesIO(data))
        self.files.append(name)

    def json(self, name: str, value: Any) -> None:
        self.text(name, json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")

    def close(self) -> None:
        self._tar.close()


def read_member(path: Path, name: str) -> bytes:
    """One file of a bundle; ConfigError naming the bundle when it is not one."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            member = tar.extractfile(f"{ROOT}/{name}")
            if member is None:
                raise KeyError(name)
            return member.read(MAX_FILE_BYTES + 1024)
    except (OSError, tarfile.TarError) as e:
        raise ConfigError(f"{path}: not a readable bcastctl bundle: {e}") from e
    except KeyError as e:
        raise ConfigError(f"{path}: not a bcastctl bundle (no {ROOT}/{name})") from e
