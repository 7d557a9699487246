"""The bundle's redaction: known values and credential patterns go; JSON stays JSON."""

from __future__ import annotations

import base64
import json

from bcastctl.bundle.redact import MARK, Redactor


def test_known_values_and_their_base64_are_removed_wherever_they_appear() -> None:
    redactor = Redactor(["s3cr3t-value"], names=["bcast-turn-secret"])
    encoded = base64.b64encode(b"s3cr3t-value").decode()
    text = redactor.text(f"a s3cr3t-value b {encoded} c secret: bcast-turn-secret")
    assert "s3cr3t" not in text and encoded not in text
    assert text.count(MARK) == 2 and "bcast-turn-secret" in text  # a Secret's name stays


def test_credential_patterns_including_escaped_json() -> None:
    redactor = Redactor()
    line = 'password=hunter22 Authorization: Bearer abc.def nats://u:pw99@h:4222 {"token": "t0k3n"}'
    assert not any(s in redactor.text(line) for s in ("hunter22", "abc.def", "pw99", "t0k3n"))
    escaped = json.dumps({"line": '{"credential": "c-123"}'})
    assert "c-123" not in redactor.text(escaped)


def test_redacted_json_still_parses_and_keeps_non_secrets() -> None:
    pod = {"spec": {"automountServiceAccountToken": False,
                    "volumes": [{"name": "k", "secret": {"secretName": "kc"}}],
                    "env": [{"name": "BCAST_TOKEN", "value": "leaky-value-1"}]}}  # fmt: skip
    text = Redactor(["leaky-value-1"]).text(json.dumps(pod, indent=1))
    parsed = json.loads(text)
    assert parsed["spec"]["automountServiceAccountToken"] is False
    assert parsed["spec"]["volumes"][0]["secret"] == {"secretName": "kc"}
    assert parsed["spec"]["env"][0]["value"] == MARK
