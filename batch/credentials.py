"""Console users' names and passwords (SPEC §10): what will do, and argon2id hashes of passwords.

Pure: a password in, a hash out, and a check (argon2-cffi's defaults, RFC
9106's low-memory profile). What a good name and password are is said here,
so the command line and the console refuse the same ones.
"""

from __future__ import annotations

import re

import argon2

from schemas.roles import PASSWORD_MIN_CHARS, USER_NAME_CHARS

_HASHER = argon2.PasswordHasher()
_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{USER_NAME_CHARS - 1}}}")


def name_problem(name: str) -> str | None:
    """Why `name` will not do as a user name; None if it will (ASCII: it is shown in logs, the audit and URLs)."""
    if _NAME.fullmatch(name) is None:
        return f"用户名应为1至{USER_NAME_CHARS}个英文字母、数字或 . _ -，且以字母或数字开头，实际为{name!r}"
    return None


def password_problem(password: str, name: str) -> str | None:
    """Why `password` will not do for user `name`, in Chinese; None if it will."""
    if len(password) < PASSWORD_MIN_CHARS:
        return f"密码至少{PASSWORD_MIN_CHARS}个字符，实际为{len(password)}个"
    if password.strip() != password:
        return "密码首尾不能是空白字符"
    if name.lower() in password.lower():
        return "密码不能包含用户名"
    return None


def hashed(password: str) -> str:
    return _HASHER.hash(password)


def verified(password_hash: str, password: str) -> bool:
    """Whether `password` is the one hashed; a malformed hash is a no, never an exception."""
    try:
        return _HASHER.verify(password_hash, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False
