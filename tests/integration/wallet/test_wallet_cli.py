"""`cocoon-desktop-cli wallet …` on a headless profile (COCOON_HOME), with the real keyring."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from cocoon_desktop.cli import wallet as cli
from cocoon_desktop.settings import AppSettings, NetworkKind, save_settings
from cocoon_desktop.wallet.node_key import NodeWalletKey
from cocoon_desktop.wallet.secret_store import SecretStore, profile_service_name
from tests.helpers.ton_config import closed_loopback_port, write_liteserver_config

pytestmark = pytest.mark.keyring
OWNER = "UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m"


def wallet(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(list(argv)))


@pytest.fixture
def profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "rig-1"
    monkeypatch.setenv("COCOON_HOME", str(home))
    if not SecretStore(prompt_to_unlock=False).status().usable:
        pytest.skip("needs the Secret Service keyring (run scripts/test.sh)")
    config = write_liteserver_config(tmp_path, [closed_loopback_port()])
    (home / "config").mkdir(parents=True)
    save_settings(home / "config" / "settings.json",
                  AppSettings(network=NetworkKind.TESTNET, ton_config_path=str(config)))
    return home


def test_a_headless_rig_session(profile: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert profile.name in profile_service_name()  # this profile's own keyring entries
    assert wallet("show") == 0 and "(not linked)" in capsys.readouterr().out
    assert wallet("link-owner", "EQ-not-an-address") == 2
    assert "48 characters" in capsys.readouterr().err
    assert wallet("link-owner", OWNER) == 0
    assert "Owner address: 0Q" in capsys.readouterr().out  # testnet form

    assert wallet("node-key", "create") == 0
    node_line = capsys.readouterr().out.strip()
    assert node_line.startswith("Node wallet: kQ")
    assert wallet("node-key", "export") == 0
    exported = capsys.readouterr().out.strip()
    assert NodeWalletKey.from_text(exported)  # upstream base64

    assert wallet("forget", "node") == 2  # refuses without --yes
    capsys.readouterr()
    assert wallet("forget", "node", "--yes") == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(f"node_wallet_key = {exported}\n"))
    assert wallet("node-key", "import") == 0
    assert node_line.removeprefix("Node wallet: ") in capsys.readouterr().out

    assert wallet("balance") == 1  # offline: says why, does not hang or crash
    out = capsys.readouterr().out
    assert "Node wallet: unknown" in out and "Chain: The TON liteserver could not be reached" in out
    assert wallet("withdraw", "--to", OWNER, "--amount", "1", "--yes") == 1
    assert "cannot be read" in capsys.readouterr().err

    assert wallet("forget", "all", "--yes") == 0
    assert wallet("show") == 0
    assert "Node wallet:   (none)" in capsys.readouterr().out
