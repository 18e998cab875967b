"""Who may use the chat UI: loopback is open; anything else needs credentials or an explicit ``--no-auth``.

No gradio import here, so ``rag ui`` refuses a bad start at once.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from rag.errors import ConfigError
from rag.settings import Settings

Credentials = list[tuple[str, str]]
HOW = "set RAG_UI_USERNAME and RAG_UI_PASSWORD, pass --auth-file FILE (user:password lines), or --no-auth to serve it open"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; any other name or address counts as reachable from outside."""
    host = host.strip().strip("[]").lower()
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_auth_file(path: Path) -> Credentials:
    """``user:password`` lines (the password may hold ':'); blank lines and ``#`` comments are skipped."""
    try:
        if os.name == "posix" and path.stat().st_mode & 0o004:
            raise ConfigError(f"Auth file {path} is readable by every user: run `chmod 600 {path}`.")
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read auth file {path}: {exc}. Give a readable file of user:password lines.") from None
    users: Credentials = []
    for n, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user.strip() or not password:
            raise ConfigError(f"Auth file {path}, line {n}: expected user:password (both non-empty).")
        users.append((user.strip(), password))
    if not users:
        raise ConfigError(f"Auth file {path} has no user:password lines: add one.")
    return users


def ui_credentials(settings: Settings, auth_file: Path | None = None) -> Credentials:
    """The users from ``RAG_UI_USERNAME``/``RAG_UI_PASSWORD`` and from ``auth_file``, in that order."""
    users: Credentials = []
    if bool(settings.ui_username) != bool(settings.ui_password):
        raise ConfigError("Set both RAG_UI_USERNAME and RAG_UI_PASSWORD (ui_username, ui_password), or neither.")
    if settings.ui_username and settings.ui_password:
        users.append((settings.ui_username, settings.ui_password.get_secret_value()))
    if auth_file is not None:
        users += read_auth_file(auth_file)
    return users


def resolve_auth(settings: Settings, host: str, share: bool, auth_file: Path | None = None,
                 no_auth: bool = False) -> Credentials | None:
    """Credentials to serve with, or None for an open server; refuses an open server off loopback
    unless ``no_auth`` (the caller warns then)."""
    if no_auth:
        return None
    users = ui_credentials(settings, auth_file)
    if users:
        return users
    if share or not is_loopback(host):
        where = "a public --share link" if share else f"--host {host}"
        raise ConfigError(f"The UI on {where} is reachable by others and needs a login: {HOW}.")
    return None
