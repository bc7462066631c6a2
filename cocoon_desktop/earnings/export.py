"""CSV export for tax records: one row per served request and one per payout.

Timestamps are ISO 8601 with the local UTC offset; amounts appear twice, in TON with all 9
decimals and in integer nanoTON, so a spreadsheet never rounds them silently. The file is
written to a temporary name, flushed to disk, then renamed: an interrupted export never
leaves a half file under the chosen name.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime, tzinfo
from pathlib import Path

from cocoon_desktop.earnings import ledger_rows as rows
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.records import PayoutRecord, ServedRequest, to_ms
from cocoon_desktop.protocol.money import format_ton

COLUMNS = (
    "kind", "time", "id", "proxy", "model", "prompt_tokens", "cached_tokens",
    "completion_tokens", "reasoning_tokens", "coefficient", "adjusted_tokens", "amount_ton",
    "amount_nanoton", "gas_ton", "energy_j", "energy_cost", "energy_currency", "status",
    "tx_hash", "owner_tx_hash", "message_hash",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportError(OSError):
    """The export could not be written; the message says where and why."""


def _text(value: str) -> str:
    """Keep spreadsheets from running text as a formula (CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _amount(nano: int) -> str:
    """All nine decimals, no grouping, no unit: what spreadsheets read back exactly."""
    return format_ton(nano, exact=True, unit=False)


def _cost(nano: int | None) -> str:
    return "" if nano is None else _amount(nano)  # same 9-decimal layout, any currency


def request_row(r: ServedRequest, zone: tzinfo, proxy_label: str) -> list[str]:
    t = r.tokens
    return [
        "request", r.finished_at.astimezone(zone).isoformat(timespec="milliseconds"),
        r.request_id, proxy_label, _text(r.model), str(t.prompt_tokens), str(t.cached_tokens),
        str(t.completion_tokens), str(t.reasoning_tokens), str(r.coefficient),
        str(r.adjusted_tokens), _amount(r.earned_nanoton), str(r.earned_nanoton), "",
        "" if r.energy_j is None else f"{r.energy_j:.3f}", _cost(r.energy_cost_nano),
        r.energy_currency or "", "served" if r.succeeded else "failed", "", "", "",
    ]


def payout_time(p: PayoutRecord) -> datetime:
    """When a payout happened, as far as known: received, else confirmed, sent, or created."""
    return p.received_at or p.confirmed_at or p.submitted_at or p.created_at


def payout_row(p: PayoutRecord, zone: tzinfo, proxy_label: str) -> list[str]:
    return [
        "payout", payout_time(p).astimezone(zone).isoformat(timespec="milliseconds"), str(p.id),
        proxy_label, "", "", "", "", "", "", str(p.tokens_to - p.tokens_from),
        _amount(p.amount_nanoton), str(p.amount_nanoton), _amount(p.gas_nanoton), "", "",
        "", p.status.value, p.tx_hash or "", p.owner_tx_hash or "", p.external_msg_hash or "",
    ]


def export_rows(ledger: Ledger, zone: tzinfo, since: datetime | None = None,
                until: datetime | None = None) -> Iterator[list[str]]:
    """Requests (by finish time) then payouts, within [since, until)."""
    labels = {p.proxy_key: p.proxy_sc_address for p in ledger.proxies()}
    sql, params = rows.request_range(since, until)
    sql = sql.replace(" ORDER BY finished_at_ms, id", "")
    for row in ledger.iter_query(sql, params):
        request = rows.request_from_row(row)
        yield request_row(request, zone, labels.get(request.proxy_key, request.proxy_key))
    low = to_ms(since) if since else None
    high = to_ms(until) if until else None
    for payout in ledger.payouts():
        moment = to_ms(payout_time(payout))
        if (low is None or moment >= low) and (high is None or moment < high):
            yield payout_row(payout, zone, labels.get(payout.proxy_key, payout.proxy_key))


def export_csv(ledger: Ledger, destination: Path, zone: tzinfo,
               since: datetime | None = None, until: datetime | None = None) -> int:
    """Write the CSV to `destination` atomically; returns the number of data rows."""
    folder = destination.parent
    try:
        fd, temp_name = tempfile.mkstemp(prefix=".earnings-", suffix=".csv.part", dir=folder)
    except OSError as exc:
        raise ExportError(
            f"cannot write in {folder}: {exc.strerror}; choose another folder"
        ) from None
    count = 0
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for line in export_rows(ledger, zone, since, until):
                writer.writerow(line)
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, destination)
    except OSError as exc:
        Path(temp_name).unlink(missing_ok=True)
        raise ExportError(f"the export to {destination} failed: {exc.strerror}; check the free "
                          "space and try again (nothing was changed)") from None
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return count

