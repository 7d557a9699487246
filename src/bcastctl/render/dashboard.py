"""The fleet's Grafana dashboard (JSON model, schemaVersion 39), from the monitor's series.

Panels: the p50 RTT matrix (a table grouped to a from x to matrix, cells coloured by the
fleet's RTT budget), the RTT distribution (heatmap of the histogram), gateway link states
over time, per pair p50 and loss, per region TURN allocation time and registry agreement,
membership size per node, and the active root causes and failing checks.
"""

from __future__ import annotations

from typing import Any

from bcastctl.fleet import Fleet

Panel = dict[str, Any]
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def _target(expr: str, legend: str = "", instant: bool = False, fmt: str = "time_series") -> Panel:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "instant": instant,
            "range": not instant, "format": fmt, "refId": "A"}  # fmt: skip


def _panel(
    kind: str, title: str, x: int, y: int, w: int, h: int, target: Panel, **more: Any
) -> Panel:
    return {"type": kind, "title": title, "datasource": DATASOURCE,
            "gridPos": {"x": x, "y": y, "w": w, "h": h}, "targets": [target], **more}  # fmt: skip


def _steps(budget_ms: float) -> Panel:
    return {"mode": "absolute", "steps": [
        {"color": "green", "value": None}, {"color": "yellow", "value": budget_ms / 2},
        {"color": "red", "value": budget_ms}]}  # fmt: skip


def _matrix(fleet: Fleet) -> Panel:
    return _panel(
        "table", "RTT p50 ms (rows: from, columns: to)", 0, 0, 12, 8,
        _target("bcast_rtt_p50_seconds * 1000", instant=True, fmt="table"),
        transformations=[{"id": "groupingToMatrix", "options": {
            "columnField": "to", "rowField": "from", "valueField": "Value"}}],
        fieldConfig={"defaults": {"unit": "ms", "decimals": 1,
                                  "thresholds": _steps(fleet.monitor.rtt_budget_ms),
                                  "custom": {"cellOptions": {"type": "color-background"}}},
                     "overrides": []},
    )  # fmt: skip


def _links() -> Panel:
    return _panel(
        "state-timeline", "Gateway links", 12, 0, 12, 8,
        _target("bcast_gateway_up", "{{from}} -> {{to}}"),
        fieldConfig={"defaults": {"mappings": [{"type": "value", "options": {
            "0": {"text": "down", "color": "red"}, "1": {"text": "up", "color": "green"}}}]},
            "overrides": []},
    )  # fmt: skip


def dashboard(fleet: Fleet) -> Panel:
    panels = [
        _matrix(fleet),
        _links(),
        _panel("heatmap", "RTT distribution (all pairs)", 0, 8, 12, 8,
               _target("sum by (le) (rate(bcast_rtt_seconds_bucket[$__rate_interval]))",
                       "{{le}}", fmt="heatmap")),
        _panel("timeseries", "RTT p50 per pair", 12, 8, 12, 8,
               _target("bcast_rtt_p50_seconds", "{{from}} -> {{to}}"),
               fieldConfig={"defaults": {"unit": "s"}, "overrides": []}),
        _panel("timeseries", "RTT loss per pair", 0, 16, 8, 8,
               _target("bcast_rtt_loss_ratio", "{{from}} -> {{to}}"),
               fieldConfig={"defaults": {"unit": "percentunit"}, "overrides": []}),
        _panel("bargauge", "Members each node sees", 8, 16, 8, 8,
               _target("bcast_membership_size", "{{node}}", instant=True)),
        _panel("timeseries", "TURN allocation time per region", 16, 16, 8, 8,
               _target("bcast_turn_allocation_seconds", "{{region}}"),
               fieldConfig={"defaults": {"unit": "s"}, "overrides": []}),
        _panel("stat", "Registry agreement per region", 0, 24, 8, 6,
               _target("min by (region) (bcast_registry_agreement)", "{{region}}", instant=True)),
        _panel("table", "Active root causes", 8, 24, 16, 6,
               _target("bcast_root_cause == 1", instant=True, fmt="table")),
        _panel("table", "Failing checks (consecutive rounds)", 0, 30, 24, 6,
               _target("bcast_check_failing_rounds > 0", instant=True, fmt="table")),
    ]  # fmt: skip
    for index, panel in enumerate(panels, 1):
        panel["id"] = index
    return {
        "title": f"bcastctl fleet {fleet.name}",
        "uid": f"bcastctl-{fleet.name}"[:40],
        "tags": ["bcastctl", "webrtc", "nats"],
        "schemaVersion": 39,
        "refresh": f"{max(int(fleet.monitor.interval_s), 5)}s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
            ]
        },
        "panels": panels,
    }
