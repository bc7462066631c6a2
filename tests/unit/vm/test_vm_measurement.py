"""RTMR3: TDX's extend rule, the hardware path through sysfs, the software record."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cocoon_desktop.vm import measurement
from cocoon_desktop.vm.measurement import MeasurementError, MeasurementRecord, Rtmr3


def test_extend_is_tdx_rule() -> None:
    event = measurement.config_event("ab" * 32)
    expected = hashlib.sha384(bytes(48) + hashlib.sha384(event.encode()).digest()).digest()
    assert measurement.replay((event,)) == expected


def test_emulated_record_replays_and_names_the_config() -> None:
    rtmr = Rtmr3(hardware=False)
    rtmr.extend(measurement.config_event("ab" * 32))
    record = rtmr.record("tcg", "console=ttyS0 cocoon.root=x")
    assert record.consistent() and not record.in_hardware
    assert record.config_sha256_hex == "ab" * 32
    assert "software record" in record.describe() and "test networks only" in record.describe()
    again = MeasurementRecord.from_json(record.to_json())
    assert again == record
    forged = MeasurementRecord(record.mode, record.cmdline, record.events, bytes(48), False)
    assert not forged.consistent()


def test_hardware_extension_writes_the_digest_to_sysfs(tmp_path: Path) -> None:
    sysfs = tmp_path / "rtmr3:sha384"
    sysfs.write_bytes(b"")
    rtmr = Rtmr3(hardware=True, sysfs_file=sysfs)
    rtmr.extend("cocoon-desktop:config.sha256=00")
    assert sysfs.read_bytes() == hashlib.sha384(b"cocoon-desktop:config.sha256=00").digest()
    assert rtmr.record("tdx", "").in_hardware


def test_missing_sysfs_and_control_characters_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MeasurementError, match=r"6\.16 or newer"):
        Rtmr3(hardware=True, sysfs_file=tmp_path / "absent/rtmr3").extend("x")
    with pytest.raises(MeasurementError, match="one line"):
        Rtmr3(hardware=False).extend("a\nb")
