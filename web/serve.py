"""`hpf web`: the console served by uvicorn on one address (loopback unless told otherwise)."""

from __future__ import annotations

import logging

from db.store import Store
from jobs.settings import Settings


def serve(settings: Settings, store: Store, host: str, port: int) -> None:
    import uvicorn

    from web.app import create_app

    logging.getLogger("hpf.web").info("控制台：http://%s:%d/", host, port)
    uvicorn.run(create_app(settings, store), host=host, port=port, log_level="info", server_header=False,
                proxy_headers=False)  # fmt: skip
