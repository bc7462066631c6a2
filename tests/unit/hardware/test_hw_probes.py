"""Doctor probes that need no hardware: the keyring backend's kind, the disk, TDX files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import SecretService, chainer, fail

from cocoon_desktop.doctor.probes import probe_disk, probe_keyring, probe_tdx


@pytest.fixture
def restore_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


@pytest.mark.usefixtures("restore_keyring")
def test_no_keyring_is_unusable() -> None:
    keyring.set_keyring(fail.Keyring())
    facts = probe_keyring()
    assert not facts.usable and facts.backend == "keyring.backends.fail.Keyring"
    assert "No system keyring" in facts.detail


@pytest.mark.usefixtures("restore_keyring")
def test_an_empty_chain_is_unusable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    keyring.set_keyring(chainer.ChainerBackend())
    assert not probe_keyring().usable


@pytest.mark.usefixtures("restore_keyring")
def test_secret_service_is_usable_without_reading_anything() -> None:
    keyring.set_keyring(SecretService.Keyring())
    facts = probe_keyring()
    assert facts.usable and facts.detail == "Secrets are kept by Keyring."


@pytest.mark.usefixtures("restore_keyring")
def test_the_os_keyring_inside_keyrings_chainer_is_the_one_reported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [SecretService.Keyring()])
    keyring.set_keyring(chainer.ChainerBackend())
    facts = probe_keyring()
    assert facts.usable and facts.backend == "keyring.backends.SecretService.Keyring"


def test_disk_of_a_folder_not_made_yet(tmp_path: Path) -> None:
    probed, free = probe_disk(tmp_path / "data" / "models")
    assert probed == tmp_path and free is not None and free > 0


def test_tdx_guest_whose_quotes_need_root(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "tdx_guest").write_text("")
    report = tmp_path / "sys" / "kernel" / "config" / "tsm" / "report"
    report.mkdir(parents=True)
    assert probe_tdx(tmp_path).quote_interface  # writable here
    missing_tsm = tmp_path / "other"
    (missing_tsm / "dev").mkdir(parents=True)
    (missing_tsm / "dev" / "tdx_guest").write_text("")
    facts = probe_tdx(missing_tsm)
    assert facts.guest and not facts.quote_interface and "configfs" in facts.detail
    assert not probe_tdx(tmp_path / "nothing").guest
