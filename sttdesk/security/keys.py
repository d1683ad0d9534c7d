"""Long-lived CURVE key pairs, kept in private files, and their human-comparable fingerprints.

Each coordinator (the app) and each agent has one key pair for life: its public
key is what the other side trusts after pairing. The pair lives in a folder
of its own (mode 0700)::

    keys/curve.key   the secret key, Z85, mode 0600 (a comment line, then the key)
    keys/curve.pub   the public key, Z85, readable by anyone: give it to an admin
                     for ``sttdesk agents trust`` / ``sttdesk-agent trust``

The secret file is made atomically on first use (written to a private temporary
file, then hard-linked into place, so two processes starting at once agree on
one key). A secret file that other users could read, or that does not hold a
key, stops the program with a typed error instead of being silently replaced:
replacing it would cut every paired peer off, and reading it might mean it leaked.

Keys are handled as Z85 ``bytes`` (40 characters), the form ZeroMQ's socket
options take.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

import zmq
from zmq.utils import z85

from .errors import (
    InvalidPublicKeyError,
    KeyFileCorruptError,
    KeyFileInsecureError,
    KeyStoreUnavailableError,
)

log = logging.getLogger(__name__)

#: Folder under a data dir that holds the key pair and trust lists.
KEYS_DIR_NAME = "keys"
SECRET_KEY_FILE = "curve.key"
PUBLIC_KEY_FILE = "curve.pub"
#: Length of a CURVE key in Z85 characters (32 raw bytes).
Z85_KEY_LENGTH = 40
RAW_KEY_LENGTH = 32
#: Hex digits of sha256(public key) shown as the fingerprint (80 bits), in groups of four.
FINGERPRINT_HEX_DIGITS = 20
FINGERPRINT_GROUP = 4
#: Modes of the key folder and the private files in it.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
PUBLIC_FILE_MODE = 0o644

_SECRET_HEADER = "# sttdesk CURVE secret key: never share this file\n"
_PUBLIC_HEADER = "# sttdesk CURVE public key (safe to share; fingerprint {fingerprint})\n"
_Z85_ALPHABET = frozenset(z85.Z85CHARS)
#: Permission checks need POSIX modes and owners; on Windows the profile folder's ACLs protect the files.
_CHECK_MODES = os.name == "posix"


@dataclass(frozen=True, slots=True)
class KeyPair:
    """One CURVE key pair, both halves Z85-encoded as ZeroMQ's socket options take them."""

    public: bytes
    #: Never logged or shown (left out of repr).
    secret: bytes = field(repr=False)

    @property
    def fingerprint(self) -> str:
        """The public key's fingerprint, see :func:`fingerprint`."""
        return fingerprint(self.public)


def key_directory(data_dir: Path) -> Path:
    """The folder under ``data_dir`` that holds the key pair and the trust lists."""
    return data_dir / KEYS_DIR_NAME


def generate_keypair() -> KeyPair:
    """A fresh random key pair (not stored)."""
    public, secret = zmq.curve_keypair()
    return KeyPair(public=public, secret=secret)


def parse_public_key(value: str | bytes) -> bytes:
    """``value`` as a Z85 public key (surrounding blanks ignored); raises InvalidPublicKeyError."""
    if isinstance(value, bytes):
        try:
            text = value.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidPublicKeyError("not ASCII text", value=value[:48].hex()) from None
    else:
        text = value
    text = text.strip()
    shown = text if len(text) <= 48 else text[:45] + "..."
    if len(text) != Z85_KEY_LENGTH:
        raise InvalidPublicKeyError(f"{len(text)} characters", value=shown)
    raw = text.encode("utf-8")
    if len(raw) != Z85_KEY_LENGTH or not set(raw) <= _Z85_ALPHABET:
        raise InvalidPublicKeyError("characters outside the Z85 alphabet", value=shown)
    try:
        z85.decode(raw)
    except (ValueError, KeyError, struct.error) as exc:  # struct.error: a 5-character group above 2**32
        raise InvalidPublicKeyError(f"not valid Z85 ({exc})", value=shown) from None
    return raw


def fingerprint(public_key: str | bytes) -> str:
    """A short, human-comparable fingerprint of a public key.

    The first 80 bits of sha256 over the raw 32-byte key, in lowercase hex groups of
    four joined by ``-`` (e.g. ``3f2a-91bc-0d4e-77a1-c2f0``): short enough to read
    aloud and compare by eye, long enough that nobody can make a key that matches
    another key's fingerprint. Raises InvalidPublicKeyError for a malformed key.
    """
    raw = z85.decode(parse_public_key(public_key))
    digest = hashlib.sha256(raw).hexdigest()[:FINGERPRINT_HEX_DIGITS]
    return "-".join(digest[i:i + FINGERPRINT_GROUP] for i in range(0, FINGERPRINT_HEX_DIGITS, FINGERPRINT_GROUP))


def read_public_key_file(path: Path) -> bytes:
    """The public key in a ``.pub`` file (comment lines starting with ``#`` ignored)."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidPublicKeyError(str(exc), value=str(path)) from exc
    return parse_public_key(_key_line(text))


def public_key_from_argument(value: str) -> bytes:
    """A public key given on a command line: the key itself, or the path of a file holding it."""
    candidate = value.strip()
    if len(candidate) == Z85_KEY_LENGTH and not Path(candidate).is_file():
        return parse_public_key(candidate)
    path = Path(candidate).expanduser()
    if path.is_file():
        return read_public_key_file(path)
    return parse_public_key(candidate)


def ensure_private_directory(directory: Path) -> None:
    """Create ``directory`` (mode 0700) if needed; refuse one other users can change."""
    try:
        directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError as exc:
        raise KeyStoreUnavailableError(exc.strerror or str(exc), path=str(directory)) from exc
    if _CHECK_MODES:
        if info.st_uid != os.geteuid():
            raise KeyFileInsecureError("the folder belongs to another user", path=str(directory),
                                       mode=_mode_text(info.st_mode))
        if info.st_mode & 0o022:
            raise KeyFileInsecureError("other users may change the folder", path=str(directory),
                                       mode=_mode_text(info.st_mode))


def check_private_file(path: Path) -> None:
    """Raise KeyFileInsecureError unless ``path`` is a regular file only its owner (us) may read."""
    if not _CHECK_MODES:
        return
    try:
        info = path.lstat()
    except OSError as exc:
        raise KeyStoreUnavailableError(exc.strerror or str(exc), path=str(path)) from exc
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileInsecureError("not a regular file", path=str(path), mode=_mode_text(info.st_mode))
    if info.st_uid != os.geteuid():
        raise KeyFileInsecureError("the file belongs to another user", path=str(path), mode=_mode_text(info.st_mode))
    if info.st_mode & 0o077:
        raise KeyFileInsecureError("other users have access", path=str(path), mode=_mode_text(info.st_mode))


def write_private_file(path: Path, text: str, *, replace: bool) -> bool:
    """Write ``text`` to ``path`` atomically with mode 0600.

    With ``replace`` the file is replaced (rename); without it an existing file is
    kept (hard link, which fails if the name exists) and False is returned.
    """
    temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        try:
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(temp, path)
            return True
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        finally:
            temp.unlink(missing_ok=True)
        return True
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise KeyStoreUnavailableError(exc.strerror or str(exc), path=str(path)) from exc


def load_or_create_keypair(directory: Path) -> KeyPair:
    """The key pair kept in ``directory`` (see :func:`key_directory`), made on first use.

    Raises KeyFileInsecureError if the secret key file or the folder is open to other
    users, KeyFileCorruptError if the file does not hold a key, KeyStoreUnavailableError
    if the folder cannot be used.
    """
    ensure_private_directory(directory)
    secret_path = directory / SECRET_KEY_FILE
    if not secret_path.exists():
        fresh = generate_keypair()
        if write_private_file(secret_path, _SECRET_HEADER + fresh.secret.decode("ascii") + "\n", replace=False):
            log.info("made a new CURVE key pair in %s (fingerprint %s)", directory, fresh.fingerprint)
    pair = _read_secret_file(secret_path)
    _write_public_file(directory / PUBLIC_KEY_FILE, pair.public)
    return pair


def _read_secret_file(path: Path) -> KeyPair:
    check_private_file(path)
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError:
        raise KeyFileCorruptError("not text", path=str(path)) from None
    except OSError as exc:
        raise KeyStoreUnavailableError(exc.strerror or str(exc), path=str(path)) from exc
    try:
        secret = parse_public_key(_key_line(text))  # same shape as a public key
    except InvalidPublicKeyError as exc:
        raise KeyFileCorruptError(exc.detail, path=str(path)) from None
    return KeyPair(public=zmq.curve_public(secret), secret=secret)


def _write_public_file(path: Path, public: bytes) -> None:
    """Keep ``curve.pub`` in step with the secret key (for admins to copy); failures only logged."""
    text = _PUBLIC_HEADER.format(fingerprint=fingerprint(public)) + public.decode("ascii") + "\n"
    try:
        if path.read_text(encoding="ascii") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    try:
        write_private_file(path, text, replace=True)
        path.chmod(PUBLIC_FILE_MODE)
    except (OSError, KeyStoreUnavailableError) as exc:
        log.warning("cannot write the public key file %s: %s", path, exc)


def _key_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return lines[0] if len(lines) == 1 else ""


def _mode_text(mode: int) -> str:
    return f"{stat.S_IMODE(mode):04o}"
