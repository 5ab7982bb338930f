"""Console users' roles (SPEC §10): not cumulative; each is a viewer plus what it may change."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    """Reads every page, ID numbers masked."""
    OPERATOR = "operator"
    """A viewer who may also rerun and reverse."""
    FINANCE = "finance"
    """A viewer who may also assign and transfer funds and download reports and statements."""


ROLE_LABELS = {Role.VIEWER: "查看", Role.OPERATOR: "运维", Role.FINANCE: "财务"}

USER_NAME_CHARS = 64
PASSWORD_MIN_CHARS = 12
