"""The folder the local runtime keeps outside the checkout belongs to one checkout.

CI clones the project again and again at the same path; a folder left by the previous clone held
an anchor file signed by keys the new clone does not have, and every verify failed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deploy.local import outside
from deploy.local.config import RuntimeConfig


def _config(checkout: Path) -> RuntimeConfig:
    return RuntimeConfig(local_dir=checkout / ".local", cache_dir=checkout / "cache")


def _leave_state(folder: Path) -> None:
    (folder / "audit-anchors.jsonl").write_text('{"head": "of an earlier store"}\n')


def test_a_clone_at_the_same_path_does_not_inherit_the_earlier_clones_folder(
    tmp_path: Path,
) -> None:
    root, checkout = tmp_path / "outside", tmp_path / "checkout"
    first = outside.claim(_config(checkout), root)
    _leave_state(first)
    shutil.rmtree(checkout)  # the checkout is deleted and cloned again at the same path

    second = outside.claim(_config(checkout), root)

    assert second == first
    assert not (second / "audit-anchors.jsonl").exists()


def test_the_same_checkout_keeps_its_folder_across_starts(tmp_path: Path) -> None:
    root, checkout = tmp_path / "outside", tmp_path / "checkout"
    folder = outside.claim(_config(checkout), root)
    _leave_state(folder)

    assert outside.claim(_config(checkout), root) == folder
    assert (folder / "audit-anchors.jsonl").exists()


def test_a_folder_without_an_owner_is_adopted_only_by_a_checkout_that_already_ran(
    tmp_path: Path,
) -> None:
    """A working tree from before tokens (it has keys) keeps its anchors; a fresh one does not."""
    root = tmp_path / "outside"
    ran_before = _config(tmp_path / "old")
    (ran_before.local_dir / "keys").mkdir(parents=True)
    folder = outside.outside_dir(ran_before, root)
    folder.mkdir(parents=True)
    _leave_state(folder)
    assert (outside.claim(ran_before, root) / "audit-anchors.jsonl").exists()

    fresh = _config(tmp_path / "fresh")
    folder = outside.outside_dir(fresh, root)
    folder.mkdir(parents=True)
    _leave_state(folder)
    assert not (outside.claim(fresh, root) / "audit-anchors.jsonl").exists()


def test_a_lost_token_in_the_checkout_does_not_adopt_another_checkouts_folder(
    tmp_path: Path,
) -> None:
    root, checkout = tmp_path / "outside", tmp_path / "checkout"
    cfg = _config(checkout)
    folder = outside.claim(cfg, root)
    _leave_state(folder)
    (cfg.local_dir / "keys").mkdir()
    (cfg.local_dir / outside.TOKEN_NAME).unlink()

    assert not (outside.claim(cfg, root) / "audit-anchors.jsonl").exists()


def test_an_earlier_checkouts_folder_with_a_server_running_is_not_deleted(
    tmp_path: Path,
) -> None:
    root, checkout = tmp_path / "outside", tmp_path / "checkout"
    folder = outside.claim(_config(checkout), root)
    (folder / "postgres" / "data").mkdir(parents=True)
    (folder / "postgres" / "data" / "postmaster.pid").write_text("4242\n")
    shutil.rmtree(checkout)

    with pytest.raises(outside.StaleFolderInUseError, match="pg_ctl stop"):
        outside.claim(_config(checkout), root)
    assert (folder / "postgres" / "data" / "postmaster.pid").exists()


def test_different_checkouts_have_different_folders(tmp_path: Path) -> None:
    a = outside.outside_dir(_config(tmp_path / "a"), tmp_path)
    b = outside.outside_dir(_config(tmp_path / "b"), tmp_path)
    assert a != b
