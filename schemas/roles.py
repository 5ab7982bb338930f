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


class Action(StrEnum):
    """What a console user may ask for beyond reading, each granted to one role (SPEC §10)."""

    RERUN = "rerun"
    REVERSE = "reverse"
    ASSIGN = "assign"
    TRANSFER = "transfer"
    DOWNLOAD = "download"
    """Reports and statements (the reconciliation XLSX/CSV, a member's statement)."""


GRANTED = {
    Role.VIEWER: frozenset[Action](),
    Role.OPERATOR: frozenset({Action.RERUN, Action.REVERSE}),
    Role.FINANCE: frozenset({Action.ASSIGN, Action.TRANSFER, Action.DOWNLOAD}),
}


def may(role: Role, action: Action) -> bool:
    return action in GRANTED[role]


def sees_id_numbers(role: Role) -> bool:
    """A viewer sees ID numbers masked; the roles that act on accounts see them whole."""
    return role is not Role.VIEWER
