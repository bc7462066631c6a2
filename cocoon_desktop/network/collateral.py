"""Intel DCAP collateral for checking proxies' TDX quotes: fetched, cached on disk, explained.

A TDX quote verifies only against collateral from Intel: the TCB info for the platform's FMSPC,
the QE identity, the PCK CRL and the root CA CRL, each signed by Intel and each valid until its
`nextUpdate`. This module gets it from a PCCS or Intel's PCS (`collateral_url`; both speak the
same v4 API), keeps it on disk until the earliest `nextUpdate` of its parts, and refreshes it in
the background: peers are checked inside the TLS handshake, which must not wait for the network.

When there is none (never fetched, expired, the service unreachable) the policy refuses the
peer with `CollateralCache.missing_reason()` ("can't check proxies' hardware: no collateral,
last tried …") and asks for it: a quote is never accepted unchecked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from cocoon_desktop.protocol.tdx_quote import INTEL_PCS_URL, CollateralKey

if TYPE_CHECKING:  # aiohttp and cryptography load when collateral is first read or fetched,
    import aiohttp  # not with every module that names the attestation policy (the app's window)

log = logging.getLogger(__name__)
INTEL_ROOT_CA_CRL_URL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
REFRESH_MARGIN_S = 3600.0  # fetch anew an hour before the collateral expires
RETRY_S = (30.0, 120.0, 600.0, 1800.0)  # after failures in a row
FETCH_TIMEOUT_S = 30.0


class CollateralError(Exception):
    """Collateral could not be fetched or read (the text says which part and why)."""


@dataclass(frozen=True)
class Collateral:
    """One platform's collateral in `dcap_qvl.QuoteCollateralV3`'s JSON form."""

    key: CollateralKey
    json_text: str
    next_update: datetime  # the earliest nextUpdate of its parts

    @classmethod
    def from_json(cls, key: CollateralKey, json_text: str) -> Collateral:
        return cls(key, json_text, next_update_of(json_text))


@dataclass(frozen=True)
class CollateralState:
    """What the node can say about its collateral (shown with the worker's status)."""

    platforms_cached: int
    last_tried: datetime | None
    last_error: str | None


def next_update_of(json_text: str) -> datetime:
    """The earliest `nextUpdate` of the TCB info, the QE identity and both CRLs."""
    from cryptography import x509

    try:
        parts = json.loads(json_text)
        dates = [_iso(json.loads(parts[name])["nextUpdate"])
                 for name in ("tcb_info", "qe_identity")]
        for name in ("pck_crl", "root_ca_crl"):
            crl = x509.load_der_x509_crl(bytes.fromhex(parts[name]))
            if crl.next_update_utc is not None:
                dates.append(crl.next_update_utc)
    except (ValueError, KeyError, TypeError) as exc:
        raise CollateralError(f"the collateral cannot be read: {exc}") from None
    return min(dates)


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class CollateralCache:
    """Collateral per platform, on disk in `folder`, fresh until its `next_update`.

    Thread-safe: the TLS verify callback reads it; the refresher writes it.
    """

    def __init__(self, folder: Path, clock: Callable[[], float] = time.time) -> None:
        self._folder = folder
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[CollateralKey, Collateral] = {}
        self._wanted: set[CollateralKey] = set()
        self._last_tried: datetime | None = None
        self._last_error: str | None = None
        self._on_want: Callable[[], None] = lambda: None
        self._load()

    def _path(self, key: CollateralKey) -> Path:
        return self._folder / f"{key.fmspc}-{key.ca}.json"

    def _load(self) -> None:
        for path in sorted(self._folder.glob("*-*.json")) if self._folder.is_dir() else ():
            fmspc, _, ca = path.stem.partition("-")
            key = CollateralKey(fmspc, ca)
            try:
                self._entries[key] = Collateral.from_json(key, path.read_text())
            except (OSError, CollateralError) as exc:
                log.warning("ignoring the cached collateral %s: %s", path.name, exc)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def lookup(self, key: CollateralKey) -> Collateral | None:
        """Fresh collateral for the platform, or None (and it is then wanted)."""
        with self._lock:
            entry = self._entries.get(key)
            fresh = entry is not None and self.now() < entry.next_update
            if not fresh:
                self._wanted.add(key)
        if not fresh:
            self._on_want()
            return None
        return entry

    def store(self, collateral: Collateral) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        path = self._path(collateral.key)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(collateral.json_text)
        temporary.replace(path)
        with self._lock:
            self._entries[collateral.key] = collateral
            self._last_tried, self._last_error = self.now(), None

    def note_failure(self, error: str) -> None:
        with self._lock:
            self._last_tried, self._last_error = self.now(), error

    def due(self) -> set[CollateralKey]:
        """Platforms to fetch: wanted or known, and missing or expiring within the margin."""
        with self._lock:
            keys = self._wanted | set(self._entries)
            horizon = self._clock() + REFRESH_MARGIN_S
            return {k for k in keys if k not in self._entries
                    or self._entries[k].next_update.timestamp() <= horizon}

    def on_want(self, callback: Callable[[], None]) -> None:
        """`callback` runs (from any thread) when a lookup found nothing fresh."""
        self._on_want = callback

    def state(self) -> CollateralState:
        with self._lock:
            now = self.now()
            fresh = sum(1 for e in self._entries.values() if now < e.next_update)
            return CollateralState(fresh, self._last_tried, self._last_error)

    def missing_reason(self, key: CollateralKey) -> str:
        """Why a quote of this platform cannot be checked now, in a sentence."""
        state = self.state()
        when = (f"last tried {state.last_tried:%Y-%m-%d %H:%M:%S} UTC"
                if state.last_tried else "not fetched yet")
        why = f" ({state.last_error})" if state.last_error else ""
        return (f"can't check proxies' hardware: no collateral for platform {key.fmspc}, "
                f"{when}{why}; the node fetches it in the background and retries, check "
                "`collateral_url` and the network")


async def fetch_collateral(session: aiohttp.ClientSession, base_url: str,
                           key: CollateralKey) -> Collateral:
    """Fetch one platform's collateral from a PCCS or Intel's PCS (v4 API)."""
    base = base_url.rstrip("/")
    tcb_body, tcb_chain = await _get(session, f"{base}/tdx/certification/v4/tcb",
                                     {"fmspc": key.fmspc}, "TCB-Info-Issuer-Chain")
    qe_body, qe_chain = await _get(session, f"{base}/tdx/certification/v4/qe/identity", {},
                                   "SGX-Enclave-Identity-Issuer-Chain")
    crl_body, crl_chain = await _get(session, f"{base}/sgx/certification/v4/pckcrl",
                                     {"ca": key.ca, "encoding": "der"},
                                     "SGX-PCK-CRL-Issuer-Chain")
    root_url = (INTEL_ROOT_CA_CRL_URL if base == INTEL_PCS_URL
                else f"{base}/sgx/certification/v4/rootcacrl")
    root_body, _ = await _get(session, root_url, {}, None)
    tcb_info, tcb_signature = _signed_json(tcb_body, "tcbInfo")
    qe_identity, qe_signature = _signed_json(qe_body, "enclaveIdentity")
    parts = {"pck_crl_issuer_chain": crl_chain, "root_ca_crl": _der_hex(root_body),
             "pck_crl": _der_hex(crl_body), "tcb_info_issuer_chain": tcb_chain,
             "tcb_info": tcb_info, "tcb_info_signature": tcb_signature,
             "qe_identity_issuer_chain": qe_chain, "qe_identity": qe_identity,
             "qe_identity_signature": qe_signature}
    return Collateral.from_json(key, json.dumps(parts))


async def _get(session: aiohttp.ClientSession, url: str, params: dict[str, str],
               chain_header: str | None) -> tuple[bytes, str]:
    import aiohttp

    try:
        async with session.get(url, params=params,
                               timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise CollateralError(f"{url} answered HTTP {resp.status}")
            chain = unquote(resp.headers.get(chain_header, "")) if chain_header else ""
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise CollateralError(f"{url} could not be reached: {type(exc).__name__} {exc}"
                              ) from None
    if chain_header and "BEGIN CERTIFICATE" not in chain:
        raise CollateralError(f"{url} sent no {chain_header} header")
    return body, chain


def _signed_json(body: bytes, field: str) -> tuple[str, str]:
    """The signed object's exact text (Intel signs those bytes) and its hex signature."""
    text = body.decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    try:
        start = text.index(f'"{field}"')
        start = text.index("{", start)
        _, end = decoder.raw_decode(text, start)
        signature = json.loads(text)["signature"]
    except (ValueError, KeyError, TypeError):
        raise CollateralError(f"the collateral service sent no signed {field}") from None
    return text[start:end], str(signature)


def _der_hex(body: bytes) -> str:
    """A CRL as hex: Intel's PCS sends DER; a PCCS may send DER, hex or PEM."""
    stripped = body.strip()
    if stripped.startswith(b"-----BEGIN"):
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding


        return x509.load_pem_x509_crl(stripped).public_bytes(Encoding.DER).hex()
    with contextlib.suppress(ValueError):
        return bytes.fromhex(stripped.decode("ascii")).hex()
    return bytes(body).hex()


class CollateralRefresher:
    """Keeps the cache fresh in the background: at once when a lookup missed, an hour before
    expiry otherwise, with growing pauses after failures. Run `run()` as a task."""

    def __init__(self, cache: CollateralCache, base_url: str,
                 session_factory: Callable[[], aiohttp.ClientSession] | None = None
                 ) -> None:
        """`session_factory`: aiohttp's `ClientSession` unless given."""
        self._cache = cache
        self._url = base_url
        self._session_factory = session_factory
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        cache.on_want(lambda: loop.call_soon_threadsafe(self._wake.set))

    async def run(self) -> None:
        import aiohttp

        failures = 0
        async with (self._session_factory or aiohttp.ClientSession)() as session:
            while True:
                self._wake.clear()
                failures = 0 if await self._refresh(session) else failures + 1
                pause = RETRY_S[min(failures, len(RETRY_S)) - 1] if failures else REFRESH_MARGIN_S
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), pause)

    async def _refresh(self, session: aiohttp.ClientSession) -> bool:
        ok = True
        for key in sorted(self._cache.due(), key=lambda k: (k.fmspc, k.ca)):
            try:
                self._cache.store(await fetch_collateral(session, self._url, key))
                log.info("collateral for platform %s fetched from %s", key.fmspc, self._url)
            except CollateralError as exc:
                ok = False
                self._cache.note_failure(str(exc))
                log.warning("no collateral for platform %s: %s", key.fmspc, exc)
        return ok
