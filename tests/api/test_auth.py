"""Access: the token file, loopback detection, the bearer check and the browser guards."""

from __future__ import annotations

import os
import stat
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sttdesk.api import ApiServer, is_loopback_host, load_or_create_token, token_path
from sttdesk.api.auth import AccessPolicy
from sttdesk.app import Core

from .helpers import error_of


def test_token_is_made_once_owner_only_and_read_back(tmp_path: Path) -> None:
    path = token_path(tmp_path / "data")
    token = load_or_create_token(path)
    assert len(token) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_token(path) == token
    assert load_or_create_token(token_path(tmp_path / "other")) != token


def test_a_loosened_token_file_is_tightened_and_an_empty_one_replaced(tmp_path: Path) -> None:
    path = tmp_path / "api-token"
    token = load_or_create_token(path)
    os.chmod(path, 0o644)
    assert load_or_create_token(path) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("")
    fresh = load_or_create_token(path)
    assert fresh and fresh != token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("LOCALHOST", True), ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("office-pc", False),
    ("", False),
])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_policy_needs_a_token_when_it_requires_one() -> None:
    with pytest.raises(ValueError):
        AccessPolicy(token=None, require_token=True)


def test_a_server_requiring_a_token_refuses_every_request_without_it(idle_core: Core, client_for) -> None:
    token = "s3cret-token-for-tests"
    client = client_for(idle_core, token=token, require_token=True)
    for path in ("/api/v1/jobs", "/api/v1/health", "/api/v1/metrics", "/docs", "/openapi.json", "/nowhere"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert error_of(response)["code"] == "token_required"
        assert response.headers["www-authenticate"].startswith("Bearer")
    wrong = client.get("/api/v1/jobs", headers={"Authorization": "Bearer s3cret-token-for-test"})
    assert wrong.status_code == 401 and error_of(wrong)["code"] == "token_invalid"
    basic = client.get("/api/v1/jobs", headers={"Authorization": "Basic czNjcmV0"})
    assert basic.status_code == 401
    good = client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"})
    assert good.status_code == 200
    assert client.get("/openapi.json", headers={"Authorization": f"bearer {token}"}).status_code == 200
    # A token-holding caller may use any host name: that is the point of binding off loopback.
    remote = client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}", "Host": "office-server:8765"})
    assert remote.status_code == 200


def test_an_upload_without_the_token_is_refused_before_anything_is_stored(idle_core: Core, client_for,
                                                                          en_audio: Path) -> None:
    client = client_for(idle_core, token="t0ken", require_token=True)
    with open(en_audio / "jfk.wav", "rb") as handle:
        response = client.post("/api/v1/jobs", files={"file": ("jfk.wav", handle)})
    assert response.status_code == 401
    assert idle_core.service.count() == 0
    uploads = idle_core.paths.data_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_loopback_server_refuses_foreign_web_pages_and_host_names(idle_core: Core, client_for) -> None:
    client = client_for(idle_core, token="tok")
    assert client.get("/api/v1/jobs").status_code == 200
    assert client.get("/api/v1/jobs", headers={"Origin": "http://localhost:3000"}).status_code == 200
    foreign = client.get("/api/v1/jobs", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and error_of(foreign)["code"] == "foreign_origin"
    rebound = client.get("/api/v1/jobs", headers={"Host": "evil.example:8765"})
    assert rebound.status_code == 403
    # ... unless the caller proves it holds the token
    with_token = client.get("/api/v1/jobs", headers={"Origin": "https://tool.example", "Authorization": "Bearer tok"})
    assert with_token.status_code == 200
    assert client.get("/api/v1/jobs", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_server_bound_off_loopback_requires_the_token_over_real_http(idle_core: Core) -> None:
    server = ApiServer(idle_core, host="0.0.0.0", port=0, require_token=False)
    assert server.require_token is True  # not optional off loopback
    with server:
        url = f"http://127.0.0.1:{server.port}/api/v1/jobs"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code == 401
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {server.token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
    assert server.token == load_or_create_token(token_path(idle_core.paths.data_dir))
