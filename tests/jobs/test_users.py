"""`hpf users` (SPEC §10): console users made, listed and disabled on the command line, each change audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from batch.credentials import hashed, name_problem, password_problem, verified
from db import tables, users
from db.engine import make_engine
from jobs.cli import hpf
from jobs.operate import os_user
from schemas.roles import Role

PASSWORD = "correct horse battery"


def run(config: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(hpf, list(args), env={"HPF_CONFIG": str(config)}, input=stdin, catch_exceptions=False)


@pytest.fixture
def config(config_file: Path) -> Path:
    assert run(config_file, "db", "upgrade").exit_code == 0
    return config_file


def stored(config: Path) -> dict[str, tuple[str, str, object]]:
    engine = make_engine(config.read_text("utf-8").split('"')[1])
    with engine.connect() as conn:
        rows = {r.name: (r.role, r.password_hash, r.disabled_at) for r in conn.execute(select(tables.users))}
    engine.dispose()
    return rows


def test_a_user_is_added_with_an_argon2_hash_listed_disabled_and_audited(config: Path) -> None:
    added = run(config, "users", "add", "wang.fang", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "wang.fang（operator）已新增" in added.output
    role, digest, disabled = stored(config)["wang.fang"]
    assert role == "operator" and disabled is None
    assert digest.startswith("$argon2id$") and PASSWORD not in digest
    assert verified(digest, PASSWORD) and not verified(digest, PASSWORD + "!")

    listed = json.loads(run(config, "users", "list", "--json").output)
    assert [(u["name"], u["role"], u["disabled_at"]) for u in listed] == [("wang.fang", "operator", None)]
    assert "password_hash" not in listed[0]
    assert "wang.fang" in run(config, "users", "list").output

    off = run(config, "users", "disable", "wang.fang", "--reason", "离职")
    assert off.exit_code == 0, off.output
    assert stored(config)["wang.fang"][2] is not None
    again = run(config, "users", "disable", "wang.fang")
    assert again.exit_code == 1 and "已于此前停用" in again.output

    audit = json.loads(run(config, "audit", "--json").output)
    assert [(a["actor"], a["via"], a["action"], a["target"], a["reason"]) for a in reversed(audit)] == [
        (os_user(), "cli", "user-add", "wang.fang", None),
        (os_user(), "cli", "user-disable", "wang.fang", "离职"),
    ]
    assert audit[-1]["detail"] == "role=operator"


def test_a_taken_name_a_weak_password_and_a_bad_name_are_refused_and_nothing_is_written(config: Path) -> None:
    assert run(config, "users", "add", "li", "--role", "viewer", "--password-stdin", stdin=PASSWORD).exit_code == 0
    taken = run(config, "users", "add", "li", "--role", "finance", "--password-stdin", stdin=PASSWORD)
    assert taken.exit_code == 1 and "用户“li”已存在" in taken.output
    short = run(config, "users", "add", "zhao", "--role", "viewer", "--password-stdin", stdin="short")
    assert short.exit_code == 1 and "密码至少12个字符，实际为5个" in short.output
    odd = run(config, "users", "add", "<script>", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    assert odd.exit_code == 1 and "用户名应为" in odd.output and "'<script>'" in odd.output
    role = run(config, "users", "add", "qian", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    assert role.exit_code == 2
    missing = run(config, "users", "disable", "nobody")
    assert missing.exit_code == 1 and "没有用户“nobody”" in missing.output
    assert list(stored(config)) == ["li"] and stored(config)["li"][0] == "viewer"
    assert [a["action"] for a in json.loads(run(config, "audit", "--json").output)] == ["user-add"]


def test_the_prompt_asks_twice_and_a_mismatch_asks_again(config: Path) -> None:
    typed = f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n"
    result = run(config, "users", "add", "sun", "--role", "finance", stdin=typed)
    assert result.exit_code == 0, result.output
    assert verified(stored(config)["sun"][1], PASSWORD)


def test_only_an_enabled_user_has_a_hash_to_log_in_with(config: Path) -> None:
    engine = make_engine(config.read_text("utf-8").split('"')[1])
    with engine.begin() as conn:
        users.add(conn, "zhou", Role.FINANCE, hashed(PASSWORD), by="test")
    with engine.connect() as conn:
        found = users.password_hash(conn, "zhou")
        assert found is not None and found[0] == "finance" and verified(found[1], PASSWORD)
        assert users.password_hash(conn, "wu") is None
    with engine.begin() as conn:
        users.disable(conn, "zhou", by="test")
    with engine.connect() as conn:
        assert users.password_hash(conn, "zhou") is None
    engine.dispose()


@pytest.mark.parametrize(
    ("name", "password", "problem"),
    [
        ("li.si", "a long enough one", None),
        ("li.si", "LI.SI and more words", "密码不能包含用户名"),
        ("li.si", " padded password ", "密码首尾不能是空白字符"),
        ("-li", "a long enough one", "用户名应为"),
        ("李四", "a long enough one", "用户名应为"),
        ("x" * 65, "a long enough one", "用户名应为"),
    ],
)
def test_what_will_do_as_a_name_and_a_password(name: str, password: str, problem: str | None) -> None:
    found = name_problem(name) or password_problem(password, name)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_a_malformed_hash_is_a_no() -> None:
    assert not verified("not a hash", PASSWORD)
