"""The config disk: canonical, hashed, read back, clear errors; no secret fields."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from cocoon_desktop.vm.guest_config import GuestConfig, GuestConfigError, WorkerSection
from tests.helpers.vm_config import guest_config


def test_disk_round_trip_and_stable_hash() -> None:
    config = guest_config()
    disk = config.disk_bytes()
    assert len(disk) % 512 == 0
    assert GuestConfig.from_disk(disk) == config
    assert guest_config().sha256_hex == config.sha256_hex
    assert replace(config, network="testnet").sha256_hex != config.sha256_hex


def test_engine_only_config_has_no_worker() -> None:
    config = guest_config(worker=None, network="none")
    assert GuestConfig.from_disk(config.disk_bytes()).worker is None


@pytest.mark.parametrize(("raw", "message"), [
    (b"\0" * 512, "no JSON"),
    (b'{"format": "something else"}', "rebuild the image"),
    (b'{"format": "cocoon-desktop-vm-config/1", "mode": "tcg"}', "lacks or has a bad field"),
])
def test_bad_disks_say_what_is_wrong(raw: bytes, message: str) -> None:
    with pytest.raises(GuestConfigError, match=message):
        GuestConfig.from_disk(raw)


def test_no_field_could_carry_a_secret() -> None:
    names = {f.name for cls in (GuestConfig, WorkerSection) for f in fields(cls)}
    assert not {n for n in names if any(w in n for w in ("key", "token", "secret", "mnemonic"))}
