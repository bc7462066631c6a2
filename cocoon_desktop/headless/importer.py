"""`cocoon-desktop serve --import-worker-conf worker.conf`: the key into the keyring, the rest
into a rig file, the key out of worker.conf.

Order matters so nothing is lost: the key is stored in the keyring and read back first; only
then is the rig file written (an older one is kept aside) and the key's value in worker.conf
replaced by upstream's `[PRIVATE]` placeholder. Any failure before that leaves worker.conf as
it was. The key is never printed, logged or written to a file by this app.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from cocoon_desktop.headless.rig_file import RigFileError, load_rig_file
from cocoon_desktop.headless.worker_conf import WorkerConf, read_worker_conf, rig_text, scrub_key
from cocoon_desktop.node.config import NodeHome, node_home
from cocoon_desktop.node.keyring_advice import keyring_problem
from cocoon_desktop.node.status import NodeProblem
from cocoon_desktop.wallet.errors import WalletError
from cocoon_desktop.wallet.manager import WalletManager
from cocoon_desktop.wallet.networks import ton_network_for
from cocoon_desktop.wallet.node_key import NodeWalletKey
from cocoon_desktop.wallet.registry import WalletRegistry
from cocoon_desktop.wallet.secret_store import SecretStore, SecretStoreError

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    source: Path
    rig_file: Path
    home: NodeHome
    conf: WorkerConf
    key_imported: bool
    node_wallet_address: str | None
    kept_aside: Path | None = None
    key_removed_from_worker_conf: bool = False
    notes: list[str] = field(default_factory=list)


def import_worker_conf(source: Path, instance: int | None, rig_file: Path | None,
                       keep_worker_conf: bool, store: SecretStore | None = None
                       ) -> ImportReport:
    """Raises WorkerConfError (bad file), WalletError (keyring, key) or OSError (writing)."""
    conf = read_worker_conf(source, instance)
    home = node_home(conf.instance)
    home.paths.ensure()
    manager = WalletManager(WalletRegistry(home.paths.data_dir),
                            store or SecretStore(service=home.keyring_service,
                                                 prompt_to_unlock=False),
                            ton_network_for(conf.network_kind))
    report = ImportReport(source, rig_file or home.paths.config_dir / "rig.toml", home, conf,
                          False, None)
    if conf.node_wallet_key is not None:
        _store_key(manager, conf.node_wallet_key)
        report.key_imported = True
    else:
        report.notes.append("worker.conf holds no node_wallet_key (or only the [PRIVATE] "
                            "placeholder): the keyring was left as it is.")
    owner = conf.values.get("owner_address")
    if owner and manager.node_wallet() is not None:
        report.node_wallet_address = manager.link_owner(owner, source="worker.conf") \
            .node_wallet_address
    report.kept_aside = _write_rig(report.rig_file, rig_text(conf, source,
                                                             home.keyring_service))
    if report.key_imported and not keep_worker_conf:
        report.key_removed_from_worker_conf = scrub_key(source, home.keyring_service)
    try:
        load_rig_file(report.rig_file, conf.instance)
    except RigFileError as exc:
        report.notes += [f"before serving: {p}" for p in exc.problems]
    return report


def _store_key(manager: WalletManager, text: str) -> None:
    wanted = NodeWalletKey.from_text(text)
    manager.import_node_key(text)
    if manager.export_node_key() != wanted.to_base64():  # read back before touching files
        raise WalletError("The keyring did not keep the node wallet key.",
                          "Check the keyring and import again; worker.conf was left as it is.")


def _write_rig(path: Path, text: str) -> Path | None:
    """Write the rig file; an existing one is kept aside (returned), never overwritten."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    kept = None
    if path.exists():
        kept = path.with_name(f"{path.name}.previous-{time.strftime('%Y%m%d-%H%M%S')}")
        path.replace(kept)
    path.write_text(text, encoding="utf-8")
    return kept


def import_problem(error: Exception, keyring_service: str) -> NodeProblem:
    """A sentence for an import that failed (no key value is ever in these texts)."""
    if isinstance(error, SecretStoreError):
        found = keyring_problem(error, True, keyring_service)
        return NodeProblem(f"The node wallet key was not imported. {found.what}",
                           f"{found.what_to_do} worker.conf was left as it is.")
    if isinstance(error, WalletError):
        return NodeProblem(f"The node wallet key was not imported: {error.what}",
                           f"{error.what_to_do} worker.conf was left as it is.".strip())
    return NodeProblem(f"The import failed: {error}", "worker.conf was left as it is.")
