"""The console's fixtures: a seeded month served by a real uvicorn, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.console import CHROMIUM_ARGS, Console, Month, chromium, seed, serving
from tests.support.environments import Job, SftpEnv


@pytest.fixture
def job(sftp_env: SftpEnv, db_url: str, tmp_path: Path) -> Job:
    return Job(sftp_env, db_url, tmp_path, funds="arrival")


@pytest.fixture
def month(job: Job) -> Month:
    return seed(job)


@pytest.fixture
def console(job: Job, month: Month) -> Iterator[Console]:
    with serving(job) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path = chromium()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(path), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()
