"""hpf.toml plus the environment, turned into one frozen Settings object.

Every problem is collected and reported together, each naming its dotted key,
so an operator fixes the whole file in one pass instead of one error per run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from batch.money import parse_rate, parse_yuan
from batch.notice import ARRIVAL, IMMEDIATE, Funds
from batch.policy import PROFILES, ROUNDING_METHODS, Period, Policy, profile_periods
from schemas.errors import TerminalError
from schemas.formats import valid_month
from sftp.settings import SftpSettings

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

    from batch.validate import ValidationOptions


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str
    """A SQLAlchemy URL; a relative sqlite file is made absolute against the config folder."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_file_mb: int
    max_rows: int
    xlsx_detail_rows: int
    group_files: int
    """Small files decided in one transaction (`jobs.groups`)."""
    group_from: int
    """A cycle with fewer small files than this takes them one by one."""
    small_file_kb: int
    """Files up to this size are taken in groups; larger ones alone."""


@dataclass(frozen=True, slots=True)
class Schedule:
    poll_seconds: int
    reconcile_cron: str
    retry_seconds: int = 60
    """First wait before a FAILED batch is retried; doubled each attempt, at most an hour."""
    max_attempts: int = 5
    """After this many attempts a FAILED batch waits for an operator (`hpf batches rerun`)."""
    timezone: str = "Asia/Shanghai"
    """The centre's zone (SPEC §7): "today", the current month and every schedule, whatever the machine's zone."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class WebSettings:
    """The console (SPEC §10): where it listens, and how long a session lasts without logging in again."""

    host: str = "127.0.0.1"
    """Loopback by default: put a TLS proxy in front to serve other machines (README)."""
    port: int = 8080
    session_hours: int = 8


IMMEDIATE_FUNDS = Funds(mode=IMMEDIATE)


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """What the pipeline needs of the settings beyond validation: a small value, not the whole `Settings`."""

    settle: bool
    """Files become ready by settling (`sftp.ready = "settle"`): a fetched file is checked unchanged."""
    xlsx_detail_rows: int
    """Rows of the 明细 sheet in a result workbook."""
    funds: Funds = IMMEDIATE_FUNDS
    """How a valid list is paid: at once (immediate), or from money the bank reported (arrival)."""
    today: date | None = None
    """The centre's today, for expiry clocks and pay-by dates (None: the validation options' today)."""
    sessions: int = 4
    """SFTP sessions a cycle uses at once to list inboxes and move small files (`sftp.sessions`)."""
    group_from: int = 10
    """A cycle with at least this many small files takes them in groups (`jobs.groups`); fewer, one by one."""
    group_size: int = 200
    """Small files committed in one transaction."""
    small_file_bytes: int = 1 << 20
    """Files up to this size are taken in groups; larger ones one at a time, streaming."""


class ConfigError(TerminalError):
    """Configuration is unusable; .problems lists every problem as 'key: message'."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a command needs, read once at start-up and passed explicitly."""

    database: DatabaseSettings
    sftp: SftpSettings | None
    """None when hpf.toml has no [sftp]: local commands (validate, reports) still work."""
    policy: Policy
    limits: Limits
    schedule: Schedule
    funds: Funds
    today: date
    """HPF_TODAY when set, so replays and tests see a fixed date."""
    config_path: Path | None
    today_pinned: bool = False
    """Whether `today` came from HPF_TODAY; if not, a long-running process must move on with the clock."""
    web: WebSettings = WebSettings()

    def as_of_now(self) -> Settings:
        """These settings with today's date, for a process that outlives the day it started."""
        if self.today_pinned:
            return self
        return dataclasses.replace(self, today=centre_today(self.schedule.zone))

    def validation(self) -> ValidationOptions:
        """What validation needs of these settings."""
        from batch.validate import ValidationOptions  # polars and pandera, only for the commands that validate

        return ValidationOptions(
            policy=self.policy,
            today=self.today,
            max_file_bytes=self.limits.max_file_mb << 20,
            max_rows=self.limits.max_rows,
        )

    def pipeline(self) -> PipelineOptions:
        """What the pipeline needs of these settings beyond validation."""
        settle = self.sftp is not None and self.sftp.ready == "settle"
        return PipelineOptions(
            settle=settle, xlsx_detail_rows=self.limits.xlsx_detail_rows, funds=self.funds, today=self.today,
            sessions=self.sftp.sessions if self.sftp else 1, group_from=self.limits.group_from,
            group_size=self.limits.group_files, small_file_bytes=self.limits.small_file_kb << 10,
        )  # fmt: skip

    def require_funds(self) -> Funds:
        """The funds settings, for commands that only make sense with bank data (`hpf funds …`)."""
        if not self.funds.arrival:
            raise ConfigError(['funds.mode = "immediate"：本中心不登记银行到账，没有暂收资金可查询或处理'])
        return self.funds

    def require_accounts(self) -> None:
        """Arrival mode cannot run a cycle without knowing which accounts are the centre's (SPEC §8)."""
        if self.funds.arrival and not self.funds.accounts:
            raise ConfigError(
                ['funds.accounts: funds.mode = "arrival" 时必须配置至少一个收款账号，否则无法登记银行到账']
            )

    def require_sftp(self) -> SftpSettings:
        """The SFTP settings, for commands that cannot run without a server."""
        if self.sftp is None:
            raise ConfigError(["[sftp] 未配置：请在配置文件中填写 [sftp] 段（至少 private_key 与 known_hosts）"])
        return self.sftp


_SECTIONS: Mapping[str, frozenset[str]] = {
    "database": frozenset({"url"}),
    "sftp": frozenset(
        {
            "host",
            "port",
            "username",
            "private_key",
            "known_hosts",
            "root",
            "ready",
            "settle_seconds",
            "connect_timeout",
            "passphrase_env",
            "sessions",
        }
    ),
    "policy": frozenset({"profile", "rounding", "periods"}),
    "limits": frozenset({"max_file_mb", "max_rows", "xlsx_detail_rows", "group_files", "group_from", "small_file_kb"}),
    "schedule": frozenset({"poll_seconds", "reconcile_cron", "retry_seconds", "max_attempts", "timezone"}),
    "funds": frozenset({"mode", "accounts", "account_name", "bank", "pay_days", "expire_days"}),
    "web": frozenset({"host", "port", "session_hours"}),
}
_PERIOD_REQUIRED = ("first_month", "last_month", "base_cap", "base_floor", "rate_min", "rate_max")
_PERIOD_KEYS = frozenset({*_PERIOD_REQUIRED, "whole_percent", "rounding"})
_LIMITS = {
    "max_file_mb": 200, "max_rows": 2_000_000, "xlsx_detail_rows": 100_000,
    "group_files": 200, "group_from": 10, "small_file_kb": 1024,
}  # fmt: skip
_MONEY = "金额（元，最多两位小数）"
_RATE = '费率（如 "5%"、"5" 或 "0.05"）'


def _show(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class _Reader:
    """Checks values and records problems; always returns something usable so reading goes on."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def table(self, key: str, value: object, allowed: frozenset[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(key, f"应为表，实际为 {_show(value)}")
            return {}
        for name in sorted(value.keys() - allowed):
            self.fail(f"{key}.{name}", "未知配置项")
        return value

    def integer(self, key: str, value: object, default: int, low: int = 1, high: int = 0) -> int:
        """An int in [low, high] (high 0: unbounded); TOML booleans are not numbers."""
        if isinstance(value, int) and not isinstance(value, bool) and low <= value and (not high or value <= high):
            return value
        wanted = f"介于 {low} 与 {high} 之间的整数" if high else f"不小于 {low} 的整数"
        wanted = "正整数" if (low, high) == (1, 0) else wanted
        self.fail(key, f"应为{wanted}，实际为 {_show(value)}")
        return default

    def text(self, key: str, value: object, default: str, choices: tuple[str, ...] = ()) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"应为非空字符串，实际为 {_show(value)}")
        elif choices and value not in choices:
            self.fail(key, f"应为 {'、'.join(choices)} 之一，实际为 {_show(value)}")
        else:
            return value
        return default

    def decimal(self, key: str, value: object, parse: Callable[[str], int | None], wanted: str) -> int | None:
        """TOML numbers become text via '.15g' first, so a float never does the arithmetic."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = format(value, ".15g")
        result = parse(value) if isinstance(value, str) else None
        if result is None:
            self.fail(key, f"应为{wanted}，实际为 {_show(value)}")
        return result


def load_settings(config: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the config (explicit, $HPF_CONFIG, ./hpf.toml, or none) and the environment."""
    env = os.environ if environ is None else environ
    r = _Reader()
    path = _locate(config, env, r)
    data = _read(path, r) if path else {}
    base = path.parent if path else Path.cwd()
    for name in sorted(data.keys() - _SECTIONS.keys()):
        r.fail(name, "未知配置项")
    s = {name: r.table(name, data.get(name, {}), keys) for name, keys in _SECTIONS.items()}
    schedule = _schedule(r, s["schedule"])
    settings = Settings(
        database=_database(r, s["database"].get("url", "sqlite:///hpf.db"), base),
        sftp=_sftp(r, s["sftp"], base) if "sftp" in data else None,
        policy=_policy(r, s["policy"]),
        limits=Limits(**{k: r.integer(f"limits.{k}", s["limits"].get(k, d), d) for k, d in _LIMITS.items()}),
        schedule=schedule,
        funds=_funds(r, s["funds"]),
        today=_today(r, env.get("HPF_TODAY"), schedule.zone),
        today_pinned=bool(env.get("HPF_TODAY")),
        config_path=path,
        web=_web(r, s["web"]),
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings


def _funds(r: _Reader, t: Mapping[str, Any]) -> Funds:
    d = Funds()
    accounts = t.get("accounts", [])
    if not isinstance(accounts, list) or not all(
        isinstance(a, str) and re.fullmatch(r"[0-9]{1,32}", a) for a in accounts
    ):
        r.fail("funds.accounts", f"应为收款账号（数字字符串）的列表，实际为{_show(accounts)}")
        accounts = []
    return Funds(
        mode=r.text("funds.mode", t.get("mode", d.mode), d.mode, (ARRIVAL, IMMEDIATE)),
        accounts=tuple(accounts),
        account_name=r.text("funds.account_name", t.get("account_name", d.account_name), d.account_name),
        bank=r.text("funds.bank", t.get("bank", d.bank), d.bank),
        pay_days=r.integer("funds.pay_days", t.get("pay_days", d.pay_days), d.pay_days, low=0, high=366),
        expire_days=r.integer("funds.expire_days", t.get("expire_days", d.expire_days), d.expire_days, high=3660),
    )


def _web(r: _Reader, t: Mapping[str, Any]) -> WebSettings:
    d = WebSettings()
    return WebSettings(
        host=r.text("web.host", t.get("host", d.host), d.host),
        port=r.integer("web.port", t.get("port", d.port), d.port, 1, 65535),
        session_hours=r.integer(
            "web.session_hours", t.get("session_hours", d.session_hours), d.session_hours, 1, 24 * 30
        ),
    )


def _locate(config: str | Path | None, env: Mapping[str, str], r: _Reader) -> Path | None:
    """A named file must exist; only the implicit ./hpf.toml may be absent."""
    for key, named in (("--config", config), ("HPF_CONFIG", env.get("HPF_CONFIG") or None)):
        if named is not None:
            path = Path(named).expanduser()
            if not path.is_file():
                r.fail(key, f"配置文件不存在：{path}")
                return None
            return path.resolve()
    default = Path("hpf.toml")
    return default.resolve() if default.is_file() else None


def _read(path: Path, r: _Reader) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        r.fail(str(path), f"第 {line.group(1) if line else '?'} 行 TOML 语法错误：{exc}")
    except UnicodeDecodeError:
        r.fail(str(path), "不是 UTF-8 编码的文本")
    except OSError as exc:
        r.fail(str(path), f"无法读取：{exc.strerror or exc}")
    return {}


def _database(r: _Reader, value: object, base: Path) -> DatabaseSettings:
    """A relative sqlite file lives next to the config, not wherever the job was started."""
    text = r.text("database.url", value, "sqlite:///hpf.db")
    try:
        url = make_url(text)
    except ArgumentError:
        r.fail("database.url", f"不是有效的 SQLAlchemy URL：{_show(text)}")
        return DatabaseSettings(text)
    if url.get_backend_name() not in ("sqlite", "postgresql") or url.get_driver_name() not in ("pysqlite", "psycopg"):
        r.fail(
            "database.url",
            f"只支持 SQLite（sqlite:///文件）和 PostgreSQL（postgresql+psycopg://用户@主机/库），实际为 {url.drivername}://…",
        )
        return DatabaseSettings(text)
    db = url.database
    if url.get_backend_name() != "sqlite" or not db or db == ":memory:":
        return DatabaseSettings(text)
    if db.startswith("file:") or Path(db).is_absolute():  # a URI or already anchored
        return DatabaseSettings(text)
    return DatabaseSettings(url.set(database=str(base / db)).render_as_string(hide_password=False))


def _sftp(r: _Reader, t: Mapping[str, Any], base: Path) -> SftpSettings:
    def path(name: str) -> Path:
        if name not in t:
            r.fail(f"sftp.{name}", "缺少必填项")
            return Path()
        p = Path(r.text(f"sftp.{name}", t[name], ".")).expanduser()
        return p if p.is_absolute() else base / p

    timeout = t.get("connect_timeout", 15.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        r.fail("sftp.connect_timeout", f"应为正数（秒），实际为 {_show(timeout)}")
        timeout = 15.0
    secret = t.get("passphrase_env")
    if secret is not None and not (isinstance(secret, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", secret)):
        r.fail("sftp.passphrase_env", f"应为环境变量名（而非口令本身），实际为 {_show(secret)}")
        secret = None
    return SftpSettings(
        host=r.text("sftp.host", t.get("host", "127.0.0.1"), "127.0.0.1"),
        port=r.integer("sftp.port", t.get("port", 22), 22, 1, 65535),
        username=r.text("sftp.username", t.get("username", "hpf"), "hpf"),
        private_key=path("private_key"),
        known_hosts=path("known_hosts"),
        root=r.text("sftp.root", t.get("root", "/srv/hpf"), "/srv/hpf"),
        ready=r.text("sftp.ready", t.get("ready", "marker"), "marker", ("marker", "settle")),
        settle_seconds=r.integer("sftp.settle_seconds", t.get("settle_seconds", 30), 30, 0),
        sessions=r.integer("sftp.sessions", t.get("sessions", 4), 4, 1, 32),
        connect_timeout=float(timeout),
        passphrase_env=secret,
    )


def _policy(r: _Reader, t: Mapping[str, Any]) -> Policy:
    """Configured periods extend the profile's; an overlap would make a month's rules ambiguous."""
    profile = r.text("policy.profile", t.get("profile", "chengdu"), "chengdu")
    try:
        builtin = profile_periods(profile)
    except KeyError:
        r.fail("policy.profile", f"未知的政策档案 {_show(profile)}，可选：{'、'.join(PROFILES)}")
        builtin = ()
    rounding = r.text("policy.rounding", t.get("rounding", "yuan_up"), "yuan_up", ROUNDING_METHODS)
    entries = t.get("periods", [])
    if not isinstance(entries, list):
        r.fail("policy.periods", f"应为 [[policy.periods]] 表数组，实际为 {_show(entries)}")
        entries = []
    named = [(f"政策档案 {profile} 的 {p.first_month}–{p.last_month}", p) for p in builtin]
    for i, entry in enumerate(entries):
        period = _period(r, f"policy.periods[{i}]", entry)
        if period is None:
            continue
        for name, other in named:
            if period.first_month <= other.last_month and other.first_month <= period.last_month:
                r.fail(f"policy.periods[{i}]", f"与 {name} 重叠")
        named.append((f"policy.periods[{i}]", period))
    periods = tuple(sorted((p for _, p in named), key=lambda p: p.first_month))
    return Policy(periods=periods, default_rounding=rounding)


def _period(r: _Reader, key: str, value: object) -> Period | None:
    """One [[policy.periods]] entry, or None after reporting everything wrong with it."""
    if not isinstance(value, dict):
        r.fail(key, f"应为表，实际为 {_show(value)}")
        return None
    before = len(r.problems)
    t = r.table(key, value, _PERIOD_KEYS)
    for name in _PERIOD_REQUIRED:
        if name not in t:
            r.fail(f"{key}.{name}", "缺少必填项")
    first, last = t.get("first_month", 0), t.get("last_month", 0)
    for name, month in (("first_month", first), ("last_month", last)):
        if name in t and (type(month) is not int or not valid_month(month)):
            r.fail(f"{key}.{name}", f"应为 YYYYMM 形式的月份，实际为 {_show(month)}")
    if len(r.problems) == before and last < first:
        r.fail(f"{key}.last_month", f"不应早于 first_month（{first}）")
    cap, low, high = (
        r.decimal(f"{key}.{name}", t[name], parse, wanted) if name in t else None
        for name, parse, wanted in (
            ("base_cap", parse_yuan, _MONEY),
            ("rate_min", parse_rate, _RATE),
            ("rate_max", parse_rate, _RATE),
        )
    )
    if low is not None and high is not None and low > high:
        r.fail(f"{key}.rate_max", "不应低于 rate_min")
    floors: dict[int, int] = {}
    raw = t.get("base_floor", {})
    if "base_floor" in t and (not isinstance(raw, dict) or not raw):
        r.fail(f"{key}.base_floor", f'应为 {{ 档次 = "金额" }} 形式的非空表，实际为 {_show(raw)}')
        raw = {}
    for tier, amount in raw.items():
        fen = r.decimal(f"{key}.base_floor.{tier}", amount, parse_yuan, _MONEY)
        if not (tier.isascii() and tier.isdigit() and int(tier) > 0):
            r.fail(f"{key}.base_floor.{tier}", "档次应为正整数")
        elif fen is not None and cap is not None and fen > cap:
            r.fail(f"{key}.base_floor.{tier}", "基数下限不应高于 base_cap")
        elif fen is not None:
            floors[int(tier)] = fen
    whole = t.get("whole_percent", True)
    if not isinstance(whole, bool):
        r.fail(f"{key}.whole_percent", f"应为 true 或 false，实际为 {_show(whole)}")
    rounding = t.get("rounding")
    if rounding is not None:
        rounding = r.text(f"{key}.rounding", rounding, "", ROUNDING_METHODS)
    if len(r.problems) > before or cap is None or low is None or high is None:
        return None
    return Period(
        first_month=first,
        last_month=last,
        base_cap_fen=cap,
        base_floor_fen=floors,
        rate_min_bp=low,
        rate_max_bp=high,
        whole_percent=whole,
        rounding=rounding,
    )


DEFAULT_CRON = "0 2 * * *"


def _schedule(r: _Reader, t: Mapping[str, Any]) -> Schedule:
    poll = r.integer("schedule.poll_seconds", t.get("poll_seconds", 300), 300)
    cron = r.text("schedule.reconcile_cron", t.get("reconcile_cron", DEFAULT_CRON), DEFAULT_CRON)
    try:
        if cron != DEFAULT_CRON:  # the default is known good: checking it would load apscheduler for every command
            cron_trigger(cron, ZoneInfo("UTC"))
    except ValueError as exc:
        r.fail("schedule.reconcile_cron", f"不是有效的 cron 表达式（5 段，或以秒开头的 6 段）{_show(cron)}：{exc}")
    retry = r.integer("schedule.retry_seconds", t.get("retry_seconds", 60), 60)
    attempts = r.integer("schedule.max_attempts", t.get("max_attempts", 5), 5)
    zone = r.text("schedule.timezone", t.get("timezone", "Asia/Shanghai"), "Asia/Shanghai")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail("schedule.timezone", f"不是已知的时区名（如 Asia/Shanghai）：{_show(zone)}")
        zone = "Asia/Shanghai"
    return Schedule(poll, cron, retry, attempts, zone)


def cron_trigger(expression: str, zone: ZoneInfo) -> CronTrigger:
    """A 5-field crontab, or 6 fields with seconds first (for fine control and tests), in the centre's zone."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) == 6:
        second, minute, hour, day, month, day_of_week = fields
        return CronTrigger(
            second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week, timezone=zone
        )
    return CronTrigger.from_crontab(expression, timezone=zone)


def centre_today(zone: ZoneInfo) -> date:
    """The date at the centre now: a machine set to UTC is eight hours behind Chengdu."""
    return datetime.now(zone).date()


def _today(r: _Reader, value: str | None, zone: ZoneInfo) -> date:
    """HPF_TODAY pins the date so a replay sees the same month as the original run."""
    local = centre_today(zone)
    if not value:  # unset or empty, like HPF_CONFIG
        return local
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    r.fail("HPF_TODAY", f"应为 YYYY-MM-DD 形式的日期，实际为 {_show(value)}")
    return local
