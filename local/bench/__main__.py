"""`python -m local.bench`: the bench's parts, in order."""

from __future__ import annotations

from local.bench.cost import cost_runs
from local.bench.gateway import gateway_calls
from local.bench.imports import cold_imports, layer_size
from local.bench.inbound import inbound_runs
from local.bench.manual import manual_syncs
from local.bench.operations import why_costs
from local.bench.outbound import outbound_runs


def main() -> None:
    layer_size()
    cold_imports()
    # First: the outbound runs' peak memory is this process's, and must be the connector's
    # alone (gateway_calls keeps an emulator in this process; the others run the functions in
    # processes of their own).
    outbound_runs()
    inbound_runs()
    cost_runs()
    manual_syncs()
    gateway_calls()
    why_costs()


if __name__ == "__main__":
    main()
