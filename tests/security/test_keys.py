"""Key pairs on disk: made once, private, refused when damaged or open to others."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest
import zmq

from sttdesk.security.errors import (
    InvalidPublicKeyError,
    KeyFileCorruptError,
    KeyFileInsecureError,
)
from sttdesk.security.keys import (
    PUBLIC_KEY_FILE,
    SECRET_KEY_FILE,
    fingerprint,
    generate_keypair,
    key_directory,
    load_or_create_keypair,
    parse_public_key,
    public_key_from_argument,
    read_public_key_file,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX only")


def test_first_use_makes_a_private_key_pair_and_later_uses_read_it(tmp_path: Path) -> None:
    directory = key_directory(tmp_path / "data")
    pair = load_or_create_keypair(directory)
    assert len(pair.public) == 40 and len(pair.secret) == 40
    assert zmq.curve_public(pair.secret) == pair.public
    assert load_or_create_keypair(directory) == pair
    secret_file = directory / SECRET_KEY_FILE
    assert pair.secret.decode() in secret_file.read_text()
    assert pair.secret.decode() not in repr(pair)
    assert read_public_key_file(directory / PUBLIC_KEY_FILE) == pair.public
    if os.name == "posix":
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


def _load_in_child(directory: str, queue: multiprocessing.Queue) -> None:
    queue.put(load_or_create_keypair(Path(directory)).public)


def test_processes_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    children = [ctx.Process(target=_load_in_child, args=(str(tmp_path / "keys"), queue)) for _ in range(4)]
    for child in children:
        child.start()
    keys = {queue.get(timeout=60) for _ in children}
    for child in children:
        child.join(30)
    assert len(keys) == 1
    assert keys == {load_or_create_keypair(tmp_path / "keys").public}


@posix_only
def test_a_secret_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_or_create_keypair(tmp_path)
    (tmp_path / SECRET_KEY_FILE).chmod(0o644)
    with pytest.raises(KeyFileInsecureError) as caught:
        load_or_create_keypair(tmp_path)
    assert "0644" in caught.value.user_message("en")
    assert "chmod 600" in caught.value.user_message("vi")


@posix_only
def test_a_key_folder_others_may_change_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    load_or_create_keypair(folder)
    folder.chmod(0o777)
    with pytest.raises(KeyFileInsecureError):
        load_or_create_keypair(folder)


@posix_only
def test_a_symlinked_secret_key_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    load_or_create_keypair(elsewhere)
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    (folder / SECRET_KEY_FILE).symlink_to(elsewhere / SECRET_KEY_FILE)
    with pytest.raises(KeyFileInsecureError):
        load_or_create_keypair(folder)


@pytest.mark.parametrize("content", [b"", b"not a key\n", b"# only a comment\n", b"\xff\xfe garbage",
                                     b"a" * 39 + b"\n", b"~" * 40 + b"\n"])
def test_a_damaged_secret_key_is_refused_not_replaced(tmp_path: Path, content: bytes) -> None:
    secret_file = tmp_path / SECRET_KEY_FILE
    tmp_path.chmod(0o700)
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content)
    os.close(fd)
    with pytest.raises(KeyFileCorruptError) as caught:
        load_or_create_keypair(tmp_path)
    assert str(secret_file) in caught.value.user_message("vi")
    assert secret_file.read_bytes() == content


def test_fingerprints_are_short_stable_and_differ_between_keys() -> None:
    first, second = generate_keypair(), generate_keypair()
    shown = fingerprint(first.public)
    assert shown == fingerprint(first.public.decode()) == first.fingerprint
    assert len(shown) == 24 and shown.count("-") == 4
    assert all(len(group) == 4 for group in shown.split("-"))
    assert fingerprint(second.public) != shown


@pytest.mark.parametrize("value", ["", "short", "x" * 41, "é" * 40, '"' * 40, "%%%%%" * 8])
def test_malformed_public_keys_are_rejected_with_a_reason(value: str) -> None:
    with pytest.raises(InvalidPublicKeyError) as caught:
        parse_public_key(value)
    assert caught.value.user_message("vi")


def test_a_public_key_is_taken_from_text_or_from_a_file(tmp_path: Path) -> None:
    pair = load_or_create_keypair(tmp_path / "keys")
    assert public_key_from_argument(f"  {pair.public.decode()}\n") == pair.public
    assert public_key_from_argument(str(tmp_path / "keys" / PUBLIC_KEY_FILE)) == pair.public
    with pytest.raises(InvalidPublicKeyError):
        public_key_from_argument(str(tmp_path / "missing.pub"))
