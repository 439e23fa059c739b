"""Keys: bot tokens and step results under separate keys, key lists for rolling a new key out,
and a generated results key kept outside the data folder, created race-free."""

from __future__ import annotations

import multiprocessing
import stat

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet, InvalidToken

from report_pipelines.cli import main
from report_pipelines.io_manager import key_dir, results_keys
from report_pipelines.store import SecretKeyError, WorkspaceStore


def test_a_new_token_key_rolls_out_while_the_old_one_still_decrypts(home, monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("REPORT_PIPELINES_SECRET_KEY", old)
    WorkspaceStore().add("T0001", "Acme", "xoxb-1-rolled-token")
    # Every process gets "new,old": new tokens are written with the new key, old ones still open.
    monkeypatch.setenv("REPORT_PIPELINES_SECRET_KEY", f"{new},{old}")
    assert WorkspaceStore().token("T0001") == "xoxb-1-rolled-token"
    WorkspaceStore().add("T0002", "Beta", "xoxb-2-new-token")
    monkeypatch.setenv("REPORT_PIPELINES_SECRET_KEY", new)
    assert WorkspaceStore().token("T0002") == "xoxb-2-new-token"
    with pytest.raises(SecretKeyError, match="cannot be decrypted"):
        WorkspaceStore().token("T0001")
    # rotate-key re-encrypts what the configured keys open; then the old key can go.
    monkeypatch.setenv("REPORT_PIPELINES_SECRET_KEY", f"{old},{new}")
    rotated = CliRunner().invoke(main, ["workspaces", "rotate-key", "--new-key-stdin"], input=new + "\n")
    assert rotated.exit_code == 0, rotated.output
    monkeypatch.setenv("REPORT_PIPELINES_SECRET_KEY", new)
    assert [WorkspaceStore().token(team) for team in ("T0001", "T0002")] == ["xoxb-1-rolled-token", "xoxb-2-new-token"]


def test_step_results_use_a_key_of_their_own(home, monkeypatch):
    token_key = Fernet.generate_key()
    monkeypatch.setenv("REPORT_PIPELINES_SECRET_KEY", token_key.decode())
    sealed = results_keys().encrypt(b"query result")
    with pytest.raises(InvalidToken):
        Fernet(token_key).decrypt(sealed)
    results_key, older = Fernet.generate_key(), Fernet.generate_key()
    monkeypatch.setenv("REPORT_PIPELINES_RESULTS_KEY", f"{results_key.decode()},{older.decode()}")
    assert Fernet(results_key).decrypt(results_keys().encrypt(b"x")) == b"x"
    # Results written under the older key still load while it is listed.
    assert results_keys().decrypt(Fernet(older).encrypt(b"earlier")) == b"earlier"


def _read_key(folder: str, queue) -> None:
    import os

    os.environ["REPORT_PIPELINES_KEY_DIR"] = folder
    os.environ.pop("REPORT_PIPELINES_RESULTS_KEY", None)
    from report_pipelines.io_manager import _key_file

    queue.put(_key_file())


def test_the_generated_results_key_lives_outside_the_data_folder_created_once(home, tmp_path):
    folder = key_dir()
    assert home not in folder.parents and folder != home
    # Eight processes asking at once all get the same whole key.
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    racers = [context.Process(target=_read_key, args=(str(folder), queue)) for _ in range(8)]
    for racer in racers:
        racer.start()
    keys = {queue.get(timeout=60) for _ in racers}
    for racer in racers:
        racer.join(timeout=60)
    assert len(keys) == 1
    key = keys.pop()
    Fernet(key)  # a whole, valid key
    path = folder / "results.key"
    assert path.read_bytes().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert [p.name for p in folder.iterdir()] == ["results.key"]  # no temporary file left
    assert not list(home.rglob("*.key"))
