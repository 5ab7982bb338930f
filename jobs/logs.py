"""Logging for the `hpf` process: one handler whose every line has ID numbers masked.

Our own log lines name batches, units and files, never people; but a traceback
or a driver's error can quote a value from a file. The formatter masks anything
shaped like a resident ID number in the finished line, the traceback included.
"""

from __future__ import annotations

import logging

from batch.masking import mask_ids_in

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_ids_in(super().format(record))


def setup(level: int = logging.WARNING) -> None:
    """Log to stderr through the masking formatter (replacing any handler set before)."""
    handler = logging.StreamHandler()
    handler.setFormatter(MaskingFormatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
