"""``supersvg-scheduler tokens`` and ``migrate`` against a real SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supersvg.scheduler.__main__ import main


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "s.db"
    monkeypatch.setenv("SUPERSVG_SCHEDULER_DATABASE_URL", f"sqlite:///{path}")
    return path


def test_tokens_create_list_revoke(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert "applied migrations: [1]" in capsys.readouterr().out
    assert main(["tokens", "create", "--tenant", "acme", "--json", "--rate-limit", "5"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["token"].startswith("ssvg_") and first["tenant"] == "acme"
    assert main(["tokens", "create", "--tenant", "acme", "--name", "ci"]) == 0
    out = capsys.readouterr().out
    assert "token:" in out
    assert main(["tokens", "list", "--tenant", "acme"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("active") == 2 and first["token"] not in listing
    assert main(["tokens", "revoke", first["token_id"]]) == 0
    assert main(["tokens", "revoke", first["token_id"]]) == 1, "already revoked"
    assert main(["tokens", "revoke", "--tenant", "acme"]) == 0
    assert main(["tokens", "list"]) == 0
    assert capsys.readouterr().out.count("revoked") >= 2
    assert main(["tokens", "revoke"]) == 2
    assert main(["tokens", "create", "--tenant", " "]) == 2


def test_bad_configuration_fails_fast(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUPERSVG_SCHEDULER_MAX_CONCURRENCY", "zero")
    assert main(["migrate"]) == 2
    assert "SUPERSVG_SCHEDULER_MAX_CONCURRENCY" in capsys.readouterr().err
