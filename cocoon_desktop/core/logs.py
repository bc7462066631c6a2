"""Logging set-up with secret redaction.

Every handler the app installs carries `RedactingFilter`: values registered with
`register_secret()` (a mnemonic, a node-wallet key, a bearer token) are replaced by a placeholder
before a record is formatted, and text that merely looks like a mnemonic or a raw key is masked
too. It is a safety net, not the design: secrets are kept out of log calls in the first place.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading
from pathlib import Path

REDACTED = "«redacted»"
_lock = threading.Lock()
_secrets: set[str] = set()

# 12+ lowercase words of 3-8 letters in a row: the shape of a BIP39/TON mnemonic.
_MNEMONIC_SHAPE = re.compile(r"\b(?:[a-z]{3,8}[ ,]+){11,}[a-z]{3,8}\b")
# 32 raw bytes as hex or base64 (a private key or seed) when labelled as a key or secret.
_LABELLED_KEY = re.compile(
    r"(?i)((?:key|secret|seed|token|mnemonic|password)[\"']?\s*[:=]\s*[\"']?)"
    r"([A-Za-z0-9+/_\-]{32,}={0,2})"
)


def register_secret(value: str | bytes) -> None:
    """Make every later log line mask `value` (and its hex form for bytes)."""
    with _lock:
        if isinstance(value, bytes):
            _secrets.add(value.hex())
        elif len(value) >= 6:
            _secrets.add(value)


def forget_secret(value: str | bytes) -> None:
    """Stop tracking a secret once it is gone from the keyring."""
    with _lock:
        _secrets.discard(value.hex() if isinstance(value, bytes) else value)


def redact(text: str) -> str:
    """Return `text` with every registered secret and secret-shaped value masked."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _MNEMONIC_SHAPE.sub(REDACTED, text)
    return _LABELLED_KEY.sub(lambda m: m.group(1) + REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (arguments merged) and exception text through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def setup_logging(log_dir: Path | None, level: int = logging.INFO) -> Path | None:
    """Log to stderr and, when `log_dir` is given, to a rotating `app.log`; return its path."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    log_file = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        log_file = log_dir / "app.log"
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_file, maxBytes=5_000_000, backupCount=3, encoding="utf-8"
            )
        )
    for handler in handlers:
        handler.setFormatter(fmt)
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    return log_file
