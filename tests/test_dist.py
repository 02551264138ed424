"""`make dist`'s wheel works where there is no Rust: installed from the file into a fresh venv,
with a PATH that has no cargo or rustc, it runs README.md's quick start.

`make dist` rebuilds only when a source changed (dist/.stamp-dist), so a run after the first
reuses the wheel. Cold, it compiles the extension with SQLite bundled (minutes: the feature
rebuilds sqlx and the bindings in the same target dir as `make build`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
VENV = Path(sys.prefix)  # the venv this run uses (make test: .venv) builds the wheel
WHEEL_TAG = re.compile(r"^cp3\d+-cp3\d+-manylinux_\d+_\d+_(x86_64|aarch64)$")


def make_dist() -> Path:
    # -o: the venv is this run's own; never reinstall its requirements from here.
    keep_venv = ["-o", f"{VENV}/.stamp-requirements"]
    subprocess.run(
        ["make", "--no-print-directory", *keep_venv, "dist", f"VENV={VENV}"],
        cwd=ROOT,
        check=True,
    )
    (wheel,) = DIST.glob("scsession-*.whl")
    assert list(DIST.glob("scsession-*.tar.gz")), "make dist builds the sdist too"
    return wheel


def test_the_wheel_is_manylinux_and_carries_sqlite_not_a_dependency_on_it() -> None:
    wheel = make_dist()
    with zipfile.ZipFile(wheel) as archive:
        info = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/WHEEL")))
        names = archive.namelist()
    (tag,) = re.findall(r"^Tag: (.*)$", info.decode(), re.MULTILINE)
    assert WHEEL_TAG.match(tag), tag
    assert not [n for n in names if ".libs/" in n], "no vendored shared library (auditwheel)"


def test_the_wheel_runs_the_readme_quick_start_without_rust(tmp_path: Path) -> None:
    wheel = make_dist()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    path = os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"])
    assert shutil.which("cargo", path=path) is None
    assert shutil.which("rustc", path=path) is None
    # Nothing else from this run's environment (no PYTHONPATH, VIRTUAL_ENV, CARGO_*); HOME for
    # pip's cache.
    env = {"PATH": path, "HOME": os.environ.get("HOME", str(tmp_path)), "LANG": "C.UTF-8"}
    # From PyPI: Starlette (and FastAPI, the [fastapi] extra), httpx2 for the TestClient.
    pip = [str(venv / "bin/python"), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "install", "--quiet", "--only-binary", ":all:", f"{wheel}[fastapi]", "httpx2"],
        env=env,
        cwd=tmp_path,
        check=True,
    )
    result = subprocess.run(
        [venv / "bin/python", ROOT / "tests/readme_quickstart.py", ROOT / "README.md"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert str(venv) in result.stdout
