"""Runs README.md's quick start against the installed scsession, as a new user would.

    python tests/readme_quickstart.py README.md

Run by an interpreter that has the wheel installed (`pip install "scsession[fastapi]"` and
`httpx2` for Starlette's TestClient), outside the checkout: `tests/test_dist.py` does that in a
fresh venv without Rust, and so does .github/workflows/wheels.yml for every wheel it builds.
Needs only the standard library, Starlette (and FastAPI for the FastAPI block). It takes the
section "## Quick start", makes a secret with the command its shell block shows, runs each
Python block and sends requests to its `app`: the counter counts per browser.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any


def quick_start(readme: Path) -> str:
    text = readme.read_text(encoding="utf-8")
    start = text.index("\n## Quick start\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def main(argv: list[str]) -> int:
    section = quick_start(Path(argv[1]))
    import scsession

    where = Path(scsession.__file__).resolve()
    print(f"scsession from {where}")
    if not where.is_relative_to(Path(sys.prefix).resolve()):
        print(f"scsession is not the installed one (sys.prefix {sys.prefix})", file=sys.stderr)
        return 1

    # The secret, made with the command the README shows (`python -m scsession keygen`).
    (keygen,) = re.findall(r"^python (-m scsession keygen)\b", section, re.MULTILINE)
    secret = subprocess.run(
        [sys.executable, *keygen.split()], check=True, capture_output=True, text=True
    ).stdout.strip()
    os.environ["SESSION_SECRET"] = secret

    from starlette.testclient import TestClient

    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    if len(blocks) < 2:
        print(f"expected the Starlette and FastAPI blocks, found {len(blocks)}", file=sys.stderr)
        return 1
    for number, code in enumerate(blocks, 1):
        namespace: dict[str, Any] = {"__name__": f"quickstart_{number}"}
        exec(compile(code, f"README.md, quick start block {number}", "exec"), namespace)
        app = namespace["app"]
        with TestClient(app, base_url="https://testserver") as browser:
            counts = [browser.get("/").json()["count"] for _ in range(3)]
        with TestClient(app, base_url="https://testserver") as other_browser:
            other = other_browser.get("/").json()["count"]
        if counts != [1, 2, 3] or other != 1:
            print(f"block {number}: counts {counts}, another browser {other}", file=sys.stderr)
            return 1
        print(f"block {number} ({type(app).__name__}): counts {counts}, another browser {other}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
