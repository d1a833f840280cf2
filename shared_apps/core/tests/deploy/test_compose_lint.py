"""The compose file passes a compose schema linter (dclint from npm, pinned): a typo in a key or a
value of the wrong type fails here, not on someone's `docker compose up`."""

from __future__ import annotations

import os
import re
import subprocess

from testkit.processes import ROOT
from testkit.stack import require_tool

DCLINT = "dclint@3.1.0"
PREFIX = ROOT / "var" / "dclint"


def test_compose_file_has_no_linter_errors():
    npm = require_tool("npm", "the compose linter (dclint) comes from the npm registry")
    binary = PREFIX / "node_modules" / ".bin" / "dclint"
    if not binary.exists():
        subprocess.run(
            [npm, "install", "--prefix", str(PREFIX), "--no-audit", "--no-fund", "--ignore-scripts", DCLINT],
            check=True,
            capture_output=True,
            timeout=300,
        )
    result = subprocess.run(
        [str(binary), str(ROOT / "docker" / "compose.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # colours, should the terminal ask for them
    # Style warnings (key order) are not errors; a schema violation is.
    errors = re.search(r"\((\d+) errors?", output)
    assert result.returncode == 0 and errors and errors.group(1) == "0", output[-3000:] + result.stderr[-2000:]
