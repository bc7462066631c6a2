"""Helpers shared by the earnings unit tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from pytoniq_core import Address

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.records import ServedRequest
from cocoon_desktop.protocol.pricing import TokenCounts

_counter = iter(range(1, 10**6))


def record(ledger: Ledger, finished: datetime, *, proxy: str = "aa" * 32, model: str = "m1",
           adjusted: int = 10, fee: int = 1000, completion: int = 8, seconds: float = 2.0,
           energy_j: float | None = None, cost_nano: int | None = None,
           currency: str | None = None) -> ServedRequest:
    request = ServedRequest(
        request_id=f"{next(_counter):064x}", proxy_key=proxy, model=model,
        tokens=TokenCounts(2, 0, completion, 0), coefficient=1000, adjusted_tokens=adjusted,
        worker_fee_per_token=fee, started_at=finished - timedelta(seconds=seconds),
        finished_at=finished, energy_j=energy_j, energy_cost_nano=cost_nano,
        energy_currency=currency,
    )
    assert ledger.record_request(request)
    return request


def bits(value: int, width: int) -> str:
    return format(value % (1 << width), f"0{width}b")


def address_bits(address: Address) -> str:
    """parsers.cpp `store_address`: store_long(2, 2), store_long(0, 1), workchain:8, 256 bits."""
    return "10" + "0" + bits(address.wc, 8) + bits(int.from_bytes(address.hash_part), 256)
