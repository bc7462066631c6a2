"""`cocoon-desktop-cli earnings`: figures, reconciliation, CSV export and a ledger check, for
headless rigs and scripts. Reads the same ledger the app writes (safe while it runs)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path

from cocoon_desktop.core.paths import app_paths
from cocoon_desktop.earnings.errors import LedgerError
from cocoon_desktop.earnings.export import ExportError, export_csv
from cocoon_desktop.earnings.figures import EarningsSummary, PeriodFigures, summarize
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.periods import local_midnight, local_zone
from cocoon_desktop.earnings.reconcile import reconcile
from cocoon_desktop.protocol.money import format_ton


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ledger", type=Path, help="the ledger file (default: the app's)")
    sub = parser.add_subparsers(dest="action", required=True)
    summary = sub.add_parser("summary", help="earned today, 7 and 30 days, all time; paid")
    summary.add_argument("--json", action="store_true", help="print JSON")
    sub.add_parser("reconcile", help="earned, committed, paid, received, and every gap")
    export = sub.add_parser("export", help="write a CSV of requests and payouts (taxes)")
    export.add_argument("path", type=Path)
    export.add_argument("--since", type=date.fromisoformat, help="first local day, YYYY-MM-DD")
    export.add_argument("--until", type=date.fromisoformat, help="day after the last, YYYY-MM-DD")
    sub.add_parser("check", help="check the ledger file's integrity")


def _line(label: str, figures: PeriodFigures) -> str:
    return (f"{label:<12} {format_ton(figures.earned_nanoton, unit=False):>18} TON  "
            f"{figures.requests:>8} requests  {figures.adjusted_tokens:>12,} tokens")


def _print_summary(summary: EarningsSummary) -> None:
    for label, figures in (("today", summary.today), ("7 days", summary.last_7_days),
                           ("30 days", summary.last_30_days), ("all time", summary.all_time)):
        print(_line(label, figures))
    print(f"paid {format_ton(summary.paid_nanoton)}, on its way "
          f"{format_ton(summary.in_flight_nanoton)}, pending "
          f"{format_ton(summary.pending_nanoton)}")
    print(f"last hour: {summary.requests_last_hour} requests, "
          f"{summary.tokens_per_s_last_hour:.2f} tokens/s served, "
          f"{summary.generation_tokens_per_s:.1f} tokens/s while generating")


def _print_reconciliation(ledger: Ledger) -> None:
    result = reconcile(ledger)
    for view in result.proxies:
        print(f"proxy {view.proxy_sc_address}")
        print(f"  earned {format_ton(view.earned_nanoton)} ({view.earned_tokens:,} tokens), "
              f"committed {format_ton(view.committed_nanoton)}, paid "
              f"{format_ton(view.paid_nanoton)}, received {format_ton(view.received_nanoton)}")
        for gap in view.gaps:
            print(f"  - {gap.message}")
    for gap in result.rejections:
        print(f"- {gap.message}")
    if result.all_clear:
        print("everything earned is committed, paid and received")


def run(args: argparse.Namespace) -> int:
    path = args.ledger or app_paths().ledger_file
    if not path.exists():
        print(f"no earnings ledger at {path} yet: it appears once the worker serves a request")
        return 1
    try:
        with Ledger.open(path) as ledger:
            return _act(ledger, args)
    except (LedgerError, ExportError) as exc:
        print(exc)
        return 2


def _act(ledger: Ledger, args: argparse.Namespace) -> int:
    zone = local_zone()
    if args.action == "summary":
        summary = summarize(ledger, zone=zone)
        if args.json:
            print(json.dumps(asdict(summary), default=str, indent=2))
        else:
            _print_summary(summary)
    elif args.action == "reconcile":
        _print_reconciliation(ledger)
    elif args.action == "export":
        since = local_midnight(args.since, zone) if args.since else None
        until = local_midnight(args.until, zone) if args.until else None
        count = export_csv(ledger, args.path, zone, since, until)
        print(f"wrote {count} rows to {args.path} ({datetime.now(zone):%Y-%m-%d %H:%M %Z})")
    else:
        problems = ledger.check_integrity()
        print("the ledger is sound" if not problems else "\n".join(problems))
        return 0 if not problems else 3
    return 0
