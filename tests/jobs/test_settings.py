"""hpf.toml + environment -> Settings: defaults, paths, and every problem reported at once."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from batch.policy import profile_periods
from jobs.settings import ConfigError, Settings, load_settings
from sftp.settings import SftpSettings

FULL = """\
[database]
url = "postgresql+psycopg://hpf@db.example/hpf"

[sftp]
host = "sftp.example"
port = 2222
username = "centre"
private_key = "keys/id_ed25519"
known_hosts = "/etc/hpf/known_hosts"
root = "/data/hpf"
ready = "settle"
settle_seconds = 60
connect_timeout = 5
passphrase_env = "HPF_KEY_PASSPHRASE"

[policy]
profile = "chengdu"
rounding = "fen_half_up"

[limits]
max_file_mb = 50
max_rows = 1000
xlsx_detail_rows = 10

[schedule]
poll_seconds = 60
reconcile_cron = "30 3 * * 1-5"
"""

NEXT_YEAR = """\
[[policy.periods]]
first_month = 202707
last_month = 202806
base_cap = "35,000"
base_floor = { 1 = "2400", 2 = 2300.5 }
rate_min = "5%"
rate_max = 0.12
whole_percent = false
rounding = "jiao_up"
"""


def write(folder: Path, text: str) -> Path:
    path = folder / "hpf.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(config: Path | None, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={} if environ is None else environ)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(None, environ={})
    assert s.config_path is None
    assert s.database.url == f"sqlite:///{tmp_path / 'hpf.db'}"
    assert s.sftp is None
    assert s.policy.periods == profile_periods("chengdu")
    assert s.policy.default_rounding == "yuan_up"
    limits = (s.limits.max_file_mb, s.limits.max_rows, s.limits.xlsx_detail_rows)
    assert limits == (200, 2_000_000, 100_000)
    assert (s.schedule.poll_seconds, s.schedule.reconcile_cron) == (300, "0 2 * * *")
    assert isinstance(s.today, date)
    with pytest.raises(ConfigError, match=r"^\[sftp\] 未配置"):
        s.require_sftp()


def test_implicit_hpf_toml_in_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "[limits]\nmax_rows = 5\n")
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={})
    assert s.config_path == tmp_path / "hpf.toml"
    assert s.limits.max_rows == 5


def test_a_full_valid_file(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, FULL), environ={"HPF_TODAY": "2026-08-15"})
    assert s.database.url == "postgresql+psycopg://hpf@db.example/hpf"
    sftp = s.require_sftp()
    assert sftp == SftpSettings(
        host="sftp.example",
        port=2222,
        username="centre",
        private_key=tmp_path / "keys/id_ed25519",
        known_hosts=Path("/etc/hpf/known_hosts"),
        root="/data/hpf",
        ready="settle",
        settle_seconds=60,
        connect_timeout=5.0,
        passphrase_env="HPF_KEY_PASSPHRASE",
    )
    assert s.policy.default_rounding == "fen_half_up"
    assert (s.limits.max_file_mb, s.limits.max_rows, s.limits.xlsx_detail_rows) == (50, 1000, 10)
    assert s.schedule.reconcile_cron == "30 3 * * 1-5"
    assert s.today == date(2026, 8, 15)
    assert s.config_path == tmp_path / "hpf.toml"


def test_relative_paths_follow_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    config = write(
        folder,
        '[database]\nurl = "sqlite:///data/hpf.db"\n'
        '[sftp]\nprivate_key = "keys/id"\nknown_hosts = "keys/known_hosts"\n',
    )
    monkeypatch.chdir(tmp_path)
    s = load_settings("etc/hpf.toml", environ={})
    assert s.config_path == config
    assert s.database.url == f"sqlite:///{folder / 'data/hpf.db'}"
    assert s.sftp is not None
    assert s.sftp.private_key == folder / "keys/id"
    assert s.sftp.known_hosts == folder / "keys/known_hosts"
    assert (s.sftp.host, s.sftp.port, s.sftp.username) == ("127.0.0.1", 22, "hpf")
    assert (s.sftp.root, s.sftp.ready, s.sftp.settle_seconds) == ("/srv/hpf", "marker", 30)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:////var/hpf.db"])
def test_memory_and_absolute_sqlite_urls_are_left_alone(tmp_path: Path, url: str) -> None:
    s = load_settings(write(tmp_path, f'[database]\nurl = "{url}"\n'), environ={})
    assert s.database.url == url


def test_an_explicit_missing_config_is_refused(tmp_path: Path) -> None:
    [problem] = problems(tmp_path / "nope.toml")
    assert problem.startswith("--config: ") and "nope.toml" in problem


def test_hpf_config_is_read_and_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "elsewhere").mkdir()
    config = write(tmp_path / "elsewhere", "[schedule]\npoll_seconds = 7\n")
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={"HPF_CONFIG": str(config)})
    assert s.config_path == config
    assert s.schedule.poll_seconds == 7
    [problem] = problems(None, {"HPF_CONFIG": str(tmp_path / "missing.toml")})
    assert problem.startswith("HPF_CONFIG: ")


def test_explicit_config_wins_over_hpf_config(tmp_path: Path) -> None:
    config = write(tmp_path, "[limits]\nmax_rows = 3\n")
    s = load_settings(config, environ={"HPF_CONFIG": str(tmp_path / "missing.toml")})
    assert s.limits.max_rows == 3


@pytest.mark.parametrize("value", ["2026-13-01", "2026/08/15", "20260815", "yesterday", " "])
def test_hpf_today_must_be_an_iso_date(tmp_path: Path, value: str) -> None:
    [problem] = problems(write(tmp_path, ""), {"HPF_TODAY": value})
    assert problem.startswith("HPF_TODAY: ")


def test_an_empty_hpf_today_means_unset(tmp_path: Path) -> None:
    assert isinstance(load_settings(write(tmp_path, ""), environ={"HPF_TODAY": ""}).today, date)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        """\
[database]
url = 5
[sftp]
hots = "typo.example"
port = 70000
private_key = "k"
known_hosts = "kh"
ready = "soon"
settle_seconds = -1
passphrase_env = "hunter2 is my passphrase"
[policy]
profile = "atlantis"
rounding = "banker"
[limits]
max_file_mb = 0
max_rows = "abc"
xlsx_detail_rows = true
[schedule]
poll_seconds = 1.5
reconcile_cron = "0 2 * *"
[extra]
""",
    )
    found = problems(config, {"HPF_TODAY": "someday"})
    keys = [p.split(": ", 1)[0] for p in found]
    assert sorted(keys) == sorted(
        [
            "extra",
            "database.url",
            "sftp.hots",
            "sftp.port",
            "sftp.ready",
            "sftp.settle_seconds",
            "sftp.passphrase_env",
            "policy.profile",
            "policy.rounding",
            "limits.max_file_mb",
            "limits.max_rows",
            "limits.xlsx_detail_rows",
            "schedule.poll_seconds",
            "schedule.reconcile_cron",
            "HPF_TODAY",
        ]
    )
    assert "sftp.hots: 未知配置项" in found
    assert 'limits.max_rows: 应为正整数，实际为 "abc"' in found
    assert "chengdu" in next(p for p in found if p.startswith("policy.profile"))


def test_a_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    config = write(tmp_path, '[database]\nurl = "sqlite:///x.db"\nport = \n')
    [problem] = problems(config)
    assert problem.startswith(f"{config}: 第 3 行")


def test_sftp_without_private_key(tmp_path: Path) -> None:
    config = write(tmp_path, '[sftp]\nhost = "h"\nknown_hosts = "kh"\n')
    assert problems(config) == ["sftp.private_key: 缺少必填项"]


def test_a_configured_period_is_added(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, NEXT_YEAR), environ={})
    builtin, added = s.policy.periods
    assert builtin == profile_periods("chengdu")[0]
    assert (added.first_month, added.last_month) == (202707, 202806)
    assert added.base_cap_fen == 3_500_000
    assert dict(added.base_floor_fen) == {1: 240_000, 2: 230_050}
    assert (added.rate_min_bp, added.rate_max_bp) == (500, 1200)
    assert (added.whole_percent, added.rounding) == (False, "jiao_up")
    assert s.policy.period_for(202801) is added


def test_an_overlapping_period_is_refused(tmp_path: Path) -> None:
    overlapping = NEXT_YEAR + NEXT_YEAR.replace("202707", "202606").replace("202806", "202607")
    found = problems(write(tmp_path, overlapping))
    assert len(found) == 1
    assert found[0].startswith("policy.periods[1]: ") and "chengdu" in found[0]
    twice = problems(write(tmp_path, NEXT_YEAR + NEXT_YEAR))
    assert twice == ["policy.periods[1]: 与 policy.periods[0] 重叠"]


def test_every_problem_in_a_period_names_its_key(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        """\
[[policy.periods]]
first_month = 202713
last_month = 202806
base_cap = "-1"
base_floor = { x = "2400", 2 = "1.234" }
rate_min = "abc"
whole_percent = "yes"
rounding = "nearest"
colour = "blue"
""",
    )
    keys = {p.split(": ", 1)[0] for p in problems(config)}
    prefix = "policy.periods[0]."
    assert keys == {
        prefix + name
        for name in (
            "first_month",
            "base_cap",
            "base_floor.x",
            "base_floor.2",
            "rate_min",
            "rate_max",
            "whole_percent",
            "rounding",
            "colour",
        )
    }


def test_settings_are_immutable(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, FULL + NEXT_YEAR), environ={})
    assert isinstance(s, Settings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.today = date(2000, 1, 1)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.limits.max_rows = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.require_sftp().port = 1  # type: ignore[misc]
    assert isinstance(s.policy.periods, tuple)
    with pytest.raises(TypeError):
        s.policy.periods[0].base_floor_fen[1] = 0  # type: ignore[index]


def test_a_long_running_process_moves_on_with_the_clock_unless_pinned(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    config = tmp_path / "hpf.toml"
    config.write_text("", "utf-8")
    pinned = load_settings(config, environ={"HPF_TODAY": "2026-11-30"})
    assert pinned.today_pinned and pinned.as_of_now() is pinned
    free = load_settings(config, environ={})
    started_yesterday = dataclasses.replace(free, today=free.today - timedelta(days=1))
    assert not started_yesterday.today_pinned
    # The centre's date, not the machine's: at 22:00 UTC it is already tomorrow in Chengdu.
    assert started_yesterday.as_of_now().today == datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()


def test_funds_default_to_arrival_and_every_bad_key_is_named(tmp_path: Path) -> None:
    s = load_settings(None, environ={})
    assert (s.funds.mode, s.funds.accounts, s.funds.pay_days, s.funds.expire_days) == ("arrival", (), 5, 30)
    with pytest.raises(ConfigError, match=r"funds\.accounts"):
        s.require_accounts()  # run-once and the scheduler refuse arrival mode without a collection account
    config = write(tmp_path, '[funds]\nmode = "later"\naccounts = ["6222", "x1"]\npay_days = -1\nexpire_days = "30"\n')
    found = problems(config)
    assert [p.split(":")[0] for p in found] == ["funds.accounts", "funds.mode", "funds.pay_days", "funds.expire_days"]
    immediate = load_settings(write(tmp_path, '[funds]\nmode = "immediate"\n'), environ={})
    immediate.require_accounts()  # nothing to book: no account needed
    with pytest.raises(ConfigError, match="immediate"):
        immediate.require_funds()
