"""`bcastctl dns plan|apply|verify`: the Cloud DNS geo record that sends TURN clients nearby."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from bcastctl.cli import context
from bcastctl.cli.base import Group
from bcastctl.cli.options import kubeconfig_option


@click.group(cls=Group)
def dns() -> None:
    """The Cloud DNS geo record for TURN."""


def _action(name: str, help: str) -> Callable[..., Any]:
    @dns.command(name, help=help)
    @click.option(
        "--from-fleet", is_flag=True, help="Use the fleet's turn_address, not live Gateways."
    )
    @kubeconfig_option
    @click.pass_context
    def command(ctx: click.Context, from_fleet: bool, kubeconfig: str | None) -> int:
        import asyncio

        from bcastctl.deploy.dns import dns_run
        from bcastctl.report.deploy_view import dns_table
        from bcastctl.report.envelope import emit

        cli = context.get(ctx)
        result = asyncio.run(
            dns_run(cli.fleet(), name, from_fleet=from_fleet, kubeconfig=kubeconfig)
        )
        emit(cli.out, cli.output.value, "DnsRecord", result, dns_table)
        return result.exit_code

    return command


plan = _action("plan", "Show how the geo record would change.")
apply = _action(
    "apply", "Make the geo record match the live STUNner addresses (one Cloud DNS change)."
)
verify = _action("verify", "Exit 1 unless the geo record matches the live STUNner addresses.")
