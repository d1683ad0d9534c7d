"""Who may call the REST API: a bearer token off loopback, this computer's own programs on it.

The token is made once with :mod:`secrets` and kept in the data folder, readable
by its owner only (0600). A server bound to a loopback address needs no token by
default, but it refuses requests that a web page of another site could make
through the user's browser (a foreign ``Origin``) and requests for a host name
that is not loopback (DNS rebinding); a valid token always gets through.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import secrets
import stat
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..domain.errors import SttdeskError
from .errors import ForeignOriginError, InvalidTokenError, TokenRequiredError

log = logging.getLogger(__name__)

#: The token file's name in the data folder.
TOKEN_FILE_NAME = "api-token"
#: Random bytes in a token (43 URL-safe characters).
TOKEN_BYTES = 32
#: Host names that always mean this computer.
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Sends the error answer for a refused request: ``(error, scope, receive, send)``.
Refuse = Callable[[SttdeskError, Scope, Receive, Send], Awaitable[None]]


def token_path(data_dir: Path) -> Path:
    """Where the API token of the data folder ``data_dir`` lives."""
    return Path(data_dir) / TOKEN_FILE_NAME


def load_or_create_token(path: Path) -> str:
    """The token kept at ``path``; made (owner-only file) on first use."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once cannot both write a token.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_token(path)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
    log.info("made a new REST API token in %s", path)
    return token


def _read_token(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # Someone loosened it (a copy, a backup restore): tighten it rather than leak the token.
        log.warning("API token file %s was readable by others (mode %o); restricting it to its owner",
                    path, stat.S_IMODE(mode))
        os.chmod(path, 0o600)
    token = path.read_text(encoding="ascii").strip()
    if not token:
        # An empty file (a crash between create and write) would let an empty header in: replace it.
        path.unlink()
        return load_or_create_token(path)
    return token


def is_loopback_host(host: str) -> bool:
    """Whether binding to ``host`` keeps the API on this computer (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # any other name may resolve off this machine


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """What a request needs to be served."""

    #: The server's token; None when it has none (then no request may present one).
    token: str | None
    #: Every request must carry the token (servers bound off loopback).
    require_token: bool

    def __post_init__(self) -> None:
        if self.require_token and not self.token:
            raise ValueError("a server that requires a token needs one")

    def check(self, headers: dict[str, str]) -> None:
        """Raise the reason a request with these (lower-case) headers is refused, if it is."""
        presented = _bearer(headers.get("authorization"))
        if presented is not None:
            if self.token is None or not hmac.compare_digest(presented.encode(), self.token.encode()):
                raise InvalidTokenError()
            return
        if self.require_token:
            raise TokenRequiredError()
        _check_local_request(headers)


def _bearer(value: str | None) -> str | None:
    if value is None:
        return None
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""  # a header of another kind never matches
    return credentials.strip()


def _check_local_request(headers: dict[str, str]) -> None:
    origin = headers.get("origin")
    if origin and origin != "null":
        host = urlsplit(origin).hostname or ""
        if not is_loopback_host(host):
            raise ForeignOriginError(origin=origin)
    host_header = headers.get("host", "")
    if host_header:
        host = urlsplit(f"//{host_header}").hostname or ""
        if not is_loopback_host(host):
            raise ForeignOriginError(origin=host_header)


class AccessGuard:
    """ASGI middleware applying an :class:`AccessPolicy` to every HTTP request, before any routing."""

    def __init__(self, app: AsgiApp, *, policy: AccessPolicy, refuse: Refuse) -> None:
        self._app = app
        self._policy = policy
        self._refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            try:
                self._policy.check(headers)
            except SttdeskError as error:
                log.info("refused %s %s from %s: %s", scope.get("method"), scope.get("path"),
                         (scope.get("client") or ("?",))[0], error.code)
                await self._refuse(error, scope, receive, send)
                return
        await self._app(scope, receive, send)
