"""The paramiko client: find ready files, fetch them whole, publish results atomically, archive.

One `SftpClient` is one SSH session, opened once per cycle and reused for
every employer. The server's host key must be in the configured known_hosts
file: an unknown or changed key is refused, never learned. Transient failures
(refused, reset, timed out, dropped) are retried with bounded backoff on a
fresh session; every operation is safe to repeat. What cannot be retried
becomes an `SftpError` whose message says what happened and what is left as
it was; a traceback never reaches the operator.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import logging
import os
import posixpath
import secrets
import socket
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import paramiko

from sftp.errors import AuthError, HostKeyError, SftpError, SftpRefused, SftpUnavailable
from sftp.settings import SftpSettings

log = logging.getLogger(__name__)

MARKER = ".done"
PARTIAL = ".part"
"""Suffix of a result still being uploaded; with a leading dot it is hidden too."""
NAGLE_FROM_BYTES = 1 << 20
"""Files larger than this are downloaded with Nagle's algorithm on (see SftpClient._nagle); a small
file's few read requests would instead wait for delayed ACKs."""
MAX_MARKER_BYTES = 64 << 10
FINANCE = "_finance"
BANK = "_bank"
"""The bank settlement platform's folder: arrival notices in its inbox, their results in its outbox (SPEC §9)."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ReadyFile:
    """A file in an employer's inbox that is ready to be taken."""

    unit: str
    name: str
    size: int
    mtime: int
    marker: bytes | None
    """The marker's content (marker mode); None in settle mode."""


@dataclass(frozen=True, slots=True)
class InboxProblem:
    """Something in (or missing from) an employer's inbox that will never be processed as it is."""

    unit: str
    name: str
    """The entry it is about, or `inbox/` for the folder itself."""
    message: str


@dataclass(frozen=True, slots=True)
class Inbox:
    """One listing of an employer's inbox: what is ready, and what never will be."""

    ready: list[ReadyFile]
    problems: list[InboxProblem]


@dataclass(frozen=True, slots=True)
class Layout:
    """Where things live under the SFTP root (SPEC §2)."""

    root: str

    def unit(self, unit: str) -> str:
        if not unit or "/" in unit or unit in (".", ".."):
            raise ValueError(f"not an employer folder name: {unit!r}")
        return posixpath.join(self.root, unit)

    def inbox(self, unit: str) -> str:
        return posixpath.join(self.unit(unit), "inbox")

    def outbox(self, unit: str) -> str:
        return posixpath.join(self.unit(unit), "outbox")

    def archive(self, unit: str) -> str:
        return posixpath.join(self.unit(unit), "archive")

    def finance_outbox(self) -> str:
        return posixpath.join(self.root, FINANCE, "outbox")


class _Refuse(paramiko.RejectPolicy):
    """RejectPolicy, with a message that names the known_hosts file."""

    def __init__(self, known_hosts: Path) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise HostKeyError(
            f"SFTP服务器 {hostname} 的主机密钥（{key.get_name()} {key.fingerprint}）不在 {self.known_hosts} 中，"
            "拒绝连接：请核实密钥后由管理员加入该文件"
        )


def _warn_if_readable(path: str | os.PathLike[str]) -> None:
    """A private key others can read is a key others may have copied: say so (ssh refuses such keys outright)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if mode & 0o077:
        log.warning("SFTP私钥 %s 的权限为 %o，其他用户可以读取：请执行 chmod 600 %s", path, mode & 0o777, path)


class SftpClient:
    """One SSH session to the centre's SFTP server; use as a context manager."""

    def __init__(
        self,
        settings: SftpSettings,
        *,
        attempts: int = 4,
        backoff: float = 1.0,
        clock: Callable[[], float] = time.time,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.layout = Layout(settings.root)
        self.attempts = attempts
        self.backoff = backoff
        self.clock = clock
        self._environ = os.environ if environ is None else environ
        self._ssh: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._folders: set[str] = set()
        """Folders known to exist in this session: made or checked once, not once per file."""

    # ---------------------------------------------------------- session

    def __enter__(self) -> SftpClient:
        self._retrying("连接", lambda: self.sftp)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._ssh is not None:
            self._ssh.close()
        self._ssh = self._sftp = None
        self._folders.clear()

    @property
    def sftp(self) -> paramiko.SFTPClient:
        """The open SFTP channel, connecting first if needed (one attempt)."""
        if self._sftp is None:
            self._sftp = self._connect()
        return self._sftp

    def _connect(self) -> paramiko.SFTPClient:
        s = self.settings
        ssh = paramiko.SSHClient()
        try:
            ssh.load_host_keys(str(s.known_hosts))
        except OSError as e:
            raise HostKeyError(f"无法读取 known_hosts 文件 {s.known_hosts}：{e.strerror}，为安全起见拒绝连接") from e
        ssh.set_missing_host_key_policy(_Refuse(s.known_hosts))
        try:
            ssh.connect(
                s.host,
                port=s.port,
                username=s.username,
                pkey=self._key(),
                timeout=s.connect_timeout,
                banner_timeout=s.connect_timeout,
                auth_timeout=s.connect_timeout,
                channel_timeout=s.connect_timeout,
                look_for_keys=False,
                allow_agent=False,
            )
        except paramiko.BadHostKeyException as e:
            ssh.close()
            raise HostKeyError(
                f"SFTP服务器 {s.host}:{s.port} 的主机密钥与 {s.known_hosts} 中记录的不同"
                f"（收到 {e.key.get_name()} {e.key.fingerprint}），可能遭到中间人攻击，拒绝连接"
            ) from e
        except paramiko.AuthenticationException as e:
            ssh.close()
            raise AuthError(f"SFTP服务器 {s.host}:{s.port} 拒绝了用户 {s.username} 的密钥 {s.private_key}") from e
        except BaseException:
            ssh.close()
            raise
        transport = ssh.get_transport()
        assert transport is not None
        transport.set_keepalive(30)
        # paramiko leaves Nagle's algorithm on: a small request after a pipelined write then
        # waits for the server's delayed ACK, 40 ms a time. Off, publishing 3 files costs 8 ms, not 38.
        # (A prefetched download is the exception: see _nagle.)
        transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[union-attr]
        self._ssh = ssh
        sftp = ssh.open_sftp()
        channel = sftp.get_channel()
        assert channel is not None
        channel.settimeout(max(s.connect_timeout, 30.0))
        return sftp

    @contextlib.contextmanager
    def _nagle(self) -> Iterator[None]:
        """Nagle's algorithm on while a prefetch streams out a hundred small read requests at a time.

        Sent one packet each (TCP_NODELAY), they cut a 100 MB download from 70 MB/s to 25-40 MB/s.
        """
        transport = self._ssh.get_transport() if self._ssh is not None else None
        sock = transport.sock if transport is not None else None
        if not isinstance(sock, socket.socket):
            yield
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _alive(self) -> bool:
        """Whether the SSH session still stands: any failure on a dead one is the connection's."""
        transport = self._ssh.get_transport() if self._ssh is not None else None
        return transport is not None and transport.is_active()

    def _key(self) -> paramiko.PKey:
        s = self.settings
        passphrase = self._environ.get(s.passphrase_env) if s.passphrase_env else None
        _warn_if_readable(s.private_key)
        where = f"环境变量 {s.passphrase_env}" if s.passphrase_env else "sftp.passphrase_env 指定的环境变量"
        try:
            # bytes: given a str, cryptography raises TypeError and no encrypted key could ever be used
            return paramiko.PKey.from_path(s.private_key, password=passphrase.encode() if passphrase else None)
        except FileNotFoundError as e:
            raise AuthError(f"SFTP私钥 {s.private_key} 不存在：请检查配置 sftp.private_key") from e
        except PermissionError as e:
            raise AuthError(f"无权读取SFTP私钥 {s.private_key}：请让运行 hpf 的用户可以读取它") from e
        except (paramiko.PasswordRequiredException, TypeError) as e:
            # cryptography says "Password was not given but private key is encrypted" as a TypeError.
            raise AuthError(f"SFTP私钥 {s.private_key} 已加密，但没有提供口令：请在{where}中设置口令") from e
        except ValueError as e:
            if passphrase:
                raise AuthError(f"SFTP私钥 {s.private_key} 的口令不正确（{where}）") from e
            raise AuthError(f"无法读取SFTP私钥 {s.private_key}：不是可识别的私钥文件") from e
        except (OSError, paramiko.SSHException) as e:
            raise AuthError(f"无法读取SFTP私钥 {s.private_key}：{type(e).__name__}: {e}") from e

    def _retrying(self, what: str, op: Callable[[], T]) -> T:
        """Run `op`, reconnecting after transient failures with bounded exponential backoff."""
        for attempt in range(1, self.attempts + 1):
            try:
                return op()
            except SftpError:
                raise
            except (OSError, EOFError, paramiko.SSHException) as e:
                if self._alive() and not _transient(e):
                    # The server answered: retrying would get the same answer.
                    raise SftpRefused(f"SFTP{what}失败：{_describe(e)}") from e
                self.close()
                s = self.settings
                if attempt == self.attempts:
                    raise SftpUnavailable(
                        f"SFTP服务器 {s.host}:{s.port} 不可用（{what}时{_describe(e)}，已重试{self.attempts}次）；"
                        "收件目录中的文件保持原样，下一轮将再次处理"
                    ) from e
                delay = self.backoff * 2 ** (attempt - 1)
                log.warning("SFTP %s失败（%s），%.1f秒后重试（第%d次）", what, _describe(e), delay, attempt)
                time.sleep(delay)
        raise AssertionError("unreachable")

    # -------------------------------------------------------- discovery

    def units(self) -> list[str]:
        """Employer folders under the root (not `_finance`, not hidden)."""

        def listing() -> list[str]:
            try:
                entries = self.sftp.listdir_attr(self.layout.root)
            except FileNotFoundError:
                raise SftpRefused(
                    f"SFTP服务器上没有目录 {self.layout.root}：请检查配置 sftp.root（chroot 时是 chroot 之内的路径）"
                ) from None
            except PermissionError:
                raise SftpRefused(f"SFTP用户无权列出目录 {self.layout.root}：请检查该目录的权限") from None
            return sorted(e.filename for e in entries if _is_dir(e) and not e.filename.startswith((".", "_")))

        return self._retrying("列出单位目录", listing)

    def ready_files(self, unit: str) -> list[ReadyFile]:
        """Files in the unit's inbox that are ready (SPEC §2), oldest first.

        Marker mode: `X` with `X.done` beside it. Settle mode: unchanged for
        `settle_seconds`, judged by the file's mtime against our clock; the
        pipeline re-checks size and mtime after fetching (`unchanged`).
        Markers without a file, result and partial files, and folders are left alone.
        """
        return self.scan(unit).ready

    def scan(self, unit: str) -> Inbox:
        """`ready_files`, and the problems that would otherwise go unnoticed (`InboxProblem`).

        A folder or a symlink where a file should be, a marker named `X.done`
        for `X.csv`, an unreadable marker, an employer folder without `inbox/`:
        each affects its own file only, and is reported.
        """
        return self._retrying(f"列出{unit}收件目录", lambda: self._scan(unit))

    def _scan(self, unit: str) -> Inbox:
        inbox = self.layout.inbox(unit)
        try:
            entries = self.sftp.listdir_attr(inbox)
        except FileNotFoundError:
            message = f"单位目录 {unit}/ 下没有 inbox/ 收件目录：该单位的文件无处上传，请创建 {inbox}"
            return Inbox([], [InboxProblem(unit, "inbox/", message)])
        except PermissionError:
            message = f"SFTP用户无权列出 {inbox}：该单位的文件不会被处理，请检查该目录的权限"
            return Inbox([], [InboxProblem(unit, "inbox/", message)])
        files = {e.filename: e for e in entries if _is_file(e)}
        problems = [
            InboxProblem(unit, e.filename, f"{e.filename} 是{_kind(e)}，不是普通文件，不会被处理：请上传文件本身")
            for e in entries
            if not _is_file(e) and not e.filename.startswith(".")
        ]
        ready = []
        for name, attrs in files.items():
            if name.endswith(MARKER) or name.startswith(".") or ".result." in name:
                continue
            if self.settings.ready == "marker":
                if name + MARKER not in files:
                    stem = name.rsplit(".", 1)[0] + MARKER
                    if stem in files and stem != name:
                        problems.append(
                            InboxProblem(
                                unit, name, f"标记文件应命名为 {name}{MARKER}（文件名加 {MARKER}），实际为 {stem}"
                            )
                        )
                    continue
                try:
                    marker = self._read_small(posixpath.join(inbox, name + MARKER))
                except FileNotFoundError:  # taken away between the listing and now
                    continue
                except PermissionError:
                    problems.append(
                        InboxProblem(unit, name, f"无法读取标记文件 {name}{MARKER}（无权限），该文件未处理")
                    )
                    continue
            else:
                if (attrs.st_mtime or 0) > self.clock() - self.settings.settle_seconds:
                    continue
                marker = None
            ready.append(ReadyFile(unit, name, attrs.st_size or 0, int(attrs.st_mtime or 0), marker))
        return Inbox(sorted(ready, key=lambda r: (r.mtime, r.name)), problems)

    def _read_small(self, path: str) -> bytes:
        with self.sftp.open(path, "rb") as f:
            return f.read(MAX_MARKER_BYTES)

    def unchanged(self, ready: ReadyFile) -> bool:
        """Whether the file still has the size and mtime it had when found ready."""

        def check() -> bool:
            try:
                attrs = self.sftp.stat(posixpath.join(self.layout.inbox(ready.unit), ready.name))
            except FileNotFoundError:
                return False
            return (attrs.st_size, int(attrs.st_mtime or 0)) == (ready.size, ready.mtime)

        return self._retrying("检查文件", check)

    # --------------------------------------------------------- transfer

    def fetch(self, ready: ReadyFile, progress: Callable[[int, int], object] | None = None) -> bytes:
        """The whole file, read with prefetch; after a dropped connection it is fetched again from the start.

        `progress(bytes_so_far, total)` is called as data arrives.
        """
        path = posixpath.join(self.layout.inbox(ready.unit), ready.name)

        def download() -> bytes:
            buffer = io.BytesIO()
            with self._nagle() if ready.size > NAGLE_FROM_BYTES else contextlib.nullcontext():
                self.sftp.getfo(path, buffer, callback=progress, prefetch=True, max_concurrent_prefetch_requests=128)
            data = buffer.getvalue()
            size = self.sftp.stat(path).st_size
            if len(data) != size:
                raise EOFError(f"short read: {len(data)} of {size} bytes")
            return data

        return self._retrying(f"下载{ready.name}", download)

    def publish(self, unit: str, files: Mapping[str, bytes], *, sweep: bool = True) -> list[str]:
        """Put each file into the unit's outbox atomically: upload under a hidden temporary name, then rename.

        `sweep`: first remove temporary files of these names that a killed upload left. Only a
        publish that was interrupted before can have left one; the pipeline asks only then and
        spares every first attempt a directory listing.
        """
        return self._put_all(self.layout.outbox(unit), files, sweep=sweep)

    def publish_finance(self, files: Mapping[str, bytes]) -> list[str]:
        """Put centre-wide reports into `_finance/outbox`, atomically."""
        return self._put_all(self.layout.finance_outbox(), files)

    def _put_all(self, folder: str, files: Mapping[str, bytes], *, sweep: bool = True) -> list[str]:
        for name in files:
            _check_name(name)
        self._retrying(f"创建目录{folder}", lambda: self._makedirs(folder))
        if sweep:
            self._retrying(f"清理{folder}", lambda: self._sweep(folder, list(files)))
        published = []
        for name, data in files.items():
            published.append(self._retrying(f"上传{name}", functools.partial(self._put, folder, name, data)))
        return published

    def _put(self, folder: str, name: str, data: bytes) -> str:
        final = posixpath.join(folder, name)
        temporary = posixpath.join(folder, f"{_temporary_prefix(name)}{secrets.token_hex(4)}{PARTIAL}")
        try:
            self.sftp.putfo(io.BytesIO(data), temporary, file_size=len(data), confirm=True)
            self.sftp.posix_rename(temporary, final)
        except BaseException:
            self._forget(temporary)
            raise
        return final

    def _sweep(self, folder: str, names: list[str]) -> None:
        """Remove temporary files of these names that a killed upload left behind (it could not clean up itself).

        Only one worker publishes a batch at a time, so such a file is nobody's work in progress; at worst
        it is another batch's upload of a result with the same name, whose rename then fails and is retried.
        """
        prefixes = tuple(_temporary_prefix(name) for name in names)
        for entry in self.sftp.listdir(folder):
            if entry.startswith(prefixes) and entry.endswith(PARTIAL):
                try:
                    self.sftp.remove(posixpath.join(folder, entry))
                except FileNotFoundError:
                    pass

    def _forget(self, temporary: str) -> None:
        """Remove our own half-written temporary file, if the connection still allows it."""
        try:
            if self._sftp is not None:
                self._sftp.remove(temporary)
        except (OSError, EOFError, paramiko.SSHException):
            pass

    def archive(self, ready: ReadyFile) -> str:
        """Move the source (and its marker) to `archive/`; a name already there gets a suffix, never an overwrite."""
        return self._retrying(f"归档{ready.name}", lambda: self._archive(ready))

    def _archive(self, ready: ReadyFile) -> str:
        inbox, archive = self.layout.inbox(ready.unit), self.layout.archive(ready.unit)
        self._makedirs(archive)
        source = posixpath.join(inbox, ready.name)
        here = self._stat(source)
        if here is None or (here.st_size, int(here.st_mtime or 0)) != (ready.size, ready.mtime):
            # Moved already: by us, just before a dropped connection hid the reply (perhaps leaving the
            # marker behind). A different file under the same name is a new upload: neither it nor its marker is ours.
            done = self._archived_copy(ready)
            if done is None:
                raise SftpRefused(f"{source} 已不在收件目录中，归档目录中也没有它，未做任何改动")
            if here is None:
                self._move_marker(posixpath.join(inbox, ready.name + MARKER), done + MARKER)
            return done
        for target_name in _archive_names(ready.name):
            target = posixpath.join(archive, target_name)
            if self._exists(target) or self._exists(target + MARKER):
                continue
            try:
                # Plain rename, not posix_rename: it fails rather than replace an existing file.
                self.sftp.rename(source, target)
            except OSError:
                if self._exists(target):
                    continue
                raise
            self._move_marker(posixpath.join(inbox, ready.name + MARKER), target + MARKER)
            return target
        raise AssertionError("unreachable")

    def _archived_copy(self, ready: ReadyFile) -> str | None:
        """The archive entry that is this very file (same size and mtime: rename keeps both)."""
        archive = self.layout.archive(ready.unit)
        for name in _archive_names(ready.name):
            path = posixpath.join(archive, name)
            try:
                attrs = self.sftp.stat(path)
            except FileNotFoundError:
                return None
            if (attrs.st_size, int(attrs.st_mtime or 0)) == (ready.size, ready.mtime):
                return path
        return None

    def _move_marker(self, source: str, target: str) -> None:
        if self._exists(source):
            self.sftp.rename(source, target)

    def _stat(self, path: str) -> paramiko.SFTPAttributes | None:
        try:
            return self.sftp.stat(path)
        except FileNotFoundError:
            return None

    def _exists(self, path: str) -> bool:
        try:
            self.sftp.stat(path)
        except FileNotFoundError:
            return False
        return True

    def _makedirs(self, folder: str) -> None:
        if folder in self._folders:
            return
        parts = [p for p in folder.split("/") if p]
        path = "/" if folder.startswith("/") else ""
        for part in parts:
            path = posixpath.join(path, part) if path else part
            if path in self._folders:
                continue
            try:
                attrs = self.sftp.stat(path)
            except FileNotFoundError:
                try:
                    self.sftp.mkdir(path)
                except OSError:
                    if not self._exists(path):
                        raise
            else:
                if not _is_dir(attrs):
                    return  # not a folder: the upload or move into it fails with the server's own answer
            self._folders.add(path)


def _archive_names(name: str) -> Iterator[str]:
    """`X.csv`, then `X.1.csv`, `X.2.csv`, … (the extension kept, so the copy still opens)."""
    yield name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    n = 1
    while True:
        yield f"{stem}.{n}.{ext}" if ext else f"{stem}.{n}"
        n += 1


def _temporary_prefix(name: str) -> str:
    """`.name.` for a file being uploaded as `name`; cut so the temporary name stays within 255 bytes."""
    return "." + name.encode()[:200].decode("utf-8", "ignore") + "."


def _check_name(name: str) -> None:
    """A published file is a plain name inside its folder, never a path elsewhere."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        raise ValueError(f"refusing to publish {name!r}: not a plain file name")


def _is_dir(attrs: paramiko.SFTPAttributes) -> bool:
    return attrs.st_mode is not None and stat.S_ISDIR(attrs.st_mode)


def _is_file(attrs: paramiko.SFTPAttributes) -> bool:
    return attrs.st_mode is not None and stat.S_ISREG(attrs.st_mode)


def _kind(attrs: paramiko.SFTPAttributes) -> str:
    mode = attrs.st_mode or 0
    if stat.S_ISDIR(mode):
        return "一个目录"
    if stat.S_ISLNK(mode):
        return "一个符号链接"
    return "一个特殊文件"


_TRANSIENT_ERRNOS = {
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
    errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN,
}  # fmt: skip


def _transient(e: BaseException) -> bool:
    """A failure of the connection (retry on a new session), not an answer from the server."""
    if isinstance(e, EOFError | paramiko.SSHException | ConnectionError | TimeoutError | socket.timeout):
        return True
    if isinstance(e, paramiko.ssh_exception.NoValidConnectionsError):
        return True
    return isinstance(e, OSError) and e.errno in _TRANSIENT_ERRNOS


def _describe(e: BaseException) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "连接被拒绝"
    if isinstance(e, socket.timeout | TimeoutError):
        return "超时"
    if isinstance(e, ConnectionResetError | EOFError):
        return "连接被中断"
    text = str(e).strip() or type(e).__name__
    return f"{type(e).__name__}: {text[:120]}"
