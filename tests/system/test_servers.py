"""The fixtures' promise to CI: a missing real server fails the suite when HPF_REQUIRE_SERVERS is set."""

from __future__ import annotations

import pytest

from tests.support import servers


def test_missing_server_is_skipped_on_a_developer_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HPF_REQUIRE_SERVERS", raising=False)
    with pytest.raises(pytest.skip.Exception):
        servers.unavailable("sshd not found")


def test_missing_server_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPF_REQUIRE_SERVERS", "1")
    with pytest.raises(pytest.fail.Exception, match="sshd not found"):
        servers.unavailable("sshd not found")


def test_missing_sshd_binary_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: servers.Path) -> None:
    monkeypatch.setenv("HPF_REQUIRE_SERVERS", "1")
    monkeypatch.setattr(servers, "_sshd_binary", lambda: None)
    with pytest.raises(pytest.fail.Exception, match="sshd"), servers.sshd_server(tmp_path / "root"):
        pass
