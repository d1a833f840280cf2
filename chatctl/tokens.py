"""Where ``chatctl`` keeps its tokens: ``$XDG_CONFIG_HOME/chatctl/tokens.json`` (else
``~/.config/chatctl/tokens.json``), readable by the user alone (mode 0600, directory 0700)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def tokens_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "chatctl" / "tokens.json"


def tokens_load() -> dict[str, Any] | None:
    try:
        return json.loads(tokens_path().read_text())
    except (OSError, ValueError):
        return None


def tokens_save(data: dict[str, Any]) -> Path:
    path = tokens_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Created 0600 from the start (no window where another user could read it), and
    # tightened in case the file already existed with a looser mode.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(data, file, indent=2)
    os.chmod(path, 0o600)
    return path


def tokens_clear() -> None:
    tokens_path().unlink(missing_ok=True)
