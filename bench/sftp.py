"""SFTP transfer speed over loopback against a real sshd: `make bench` (not part of `make test`).

Moves a 100 MB file each way the way hpf-batch does (prefetched `getfo`,
pipelined `putfo` plus an atomic rename) and the naive way (sequential reads,
unpipelined writes), and prints MB/s for each.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from tests.servers import sshd_server

from jobs.settings import SftpSettings
from sftp.client import SftpClient

SIZE_MB = 100
RUNS = 3


def _rate(seconds: list[float]) -> str:
    return f"{SIZE_MB / statistics.median(seconds):6.1f} MB/s (median of {len(seconds)})"


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="hpf-bench-"))
    home.chmod(0o755)
    root = home / "root"
    (root / "u" / "inbox").mkdir(parents=True)
    data = os.urandom(SIZE_MB << 20)
    (root / "u" / "inbox" / "big.csv").write_bytes(data)
    with sshd_server(root) as server:
        server.give_root_to_user()
        settings = SftpSettings(
            host="127.0.0.1", port=server.port, username=server.username, private_key=server.private_key,
            known_hosts=server.known_hosts, root=str(root), ready="settle", settle_seconds=0,
        )  # fmt: skip
        with SftpClient(settings) as client:
            (ready,) = client.ready_files("u")
            fetch, publish, naive_read, naive_write = [], [], [], []
            for _ in range(RUNS):
                t = time.perf_counter()
                assert client.fetch(ready) == data
                fetch.append(time.perf_counter() - t)
                t = time.perf_counter()
                client.publish("u", {"big.result.csv": data})
                publish.append(time.perf_counter() - t)
            t = time.perf_counter()
            with client.sftp.open(str(root / "u" / "inbox" / "big.csv"), "rb") as f:
                while f.read(32768):
                    pass
            naive_read.append(time.perf_counter() - t)
            t = time.perf_counter()
            with client.sftp.open(str(root / "u" / "outbox" / "naive.bin"), "wb") as f:
                f.set_pipelined(False)
                for i in range(0, len(data), 32768):
                    f.write(data[i : i + 32768])
            naive_write.append(time.perf_counter() - t)
    print(f"SFTP over loopback, OpenSSH sshd, {SIZE_MB} MB file")
    print(f"  fetch    (getfo, prefetch)          {_rate(fetch)}")
    print(f"  publish  (putfo, pipelined, rename) {_rate(publish)}")
    print(f"  naive read  (no prefetch)           {_rate(naive_read)}")
    print(f"  naive write (unpipelined)           {_rate(naive_write)}")


if __name__ == "__main__":
    main()
