"""`make bench` keeps working: one quick round checks every variant's behaviour before timing.

Only that the bench runs and its behaviour checks hold is asserted here, never its timings:
performance targets live in `make bench` itself. The bench starts its own redis-server (through
tests/servers.py) for the Redis variants, and, in HTTP mode, uvicorn processes loaded by wrk
(installed with apt-get when missing).
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from typing import Any

import pytest

CARGO_RUN_AXUM_BENCH = ["cargo", "run", "--quiet", "-p", "scsession-axum-bench", "--"]
BENCH = Path(__file__).resolve().parent.parent / "benches" / "bench_middleware.py"


def load_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_middleware", BENCH)
    assert spec is not None and spec.loader is not None
    bench: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_bench_runs_and_every_variant_behaves(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_bench()
    assert bench.main(["--quick", "--rounds", "1", "--batch-seconds", "0.005"]) == 0
    out = capsys.readouterr().out
    for variant in (
        "starlette",
        "starsessions",
        "scsession-cookie",
        "scsession-memory",
        "starsessions-redis",
        "scsession-redis",
    ):
        assert variant in out
    assert "untouched" in out
    assert "scsession-redis overhead / starsessions-redis overhead" in out
    assert "Over HTTP" not in out  # --quick leaves HTTP out
    assert "Chart:" not in out  # and does not redraw the committed chart


def test_bench_http_mode_runs_and_draws_its_chart(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The HTTP mode on the Redis pair and the cookie variant, as short as it goes (about 10 s),
    drawing its chart to a temporary file (a quick run draws none unless asked)."""
    bench = load_bench()
    chart = tmp_path / "bench.png"
    argv = ["--quick", "--rounds", "1", "--batch-seconds", "0.005", "--http"]
    argv += ["--variants", "scsession-cookie,starsessions-redis,scsession-redis"]
    argv += ["--http-rounds", "1", "--http-seconds", "1", "--http-warmup", "0"]
    argv += ["--chart", str(chart)]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert "Over HTTP" in out
    assert "(standard: httptools " in out
    assert "HTTP read (server CPU): scsession-redis overhead / starsessions-redis overhead" in out
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"Chart: {chart}" in out


def test_bound_session_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_bound", BENCH.parent / "bench_bound.py")
    assert spec is not None and spec.loader is not None
    bench: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--rounds", "1", "--writes", "5"]) == 0
    out = capsys.readouterr().out
    assert "| memory |" in out and "| redis |" in out


def test_contention_bench_runs_without_failed_or_lost_writes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One uvicorn and two uvicorns on one Redis, 1 s of wrk each (about 5 s)."""
    path = BENCH.parent / "bench_contention.py"
    spec = importlib.util.spec_from_file_location("bench_contention", path)
    assert spec is not None and spec.loader is not None
    bench: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick"]) == 0, "a failed request or a lost write under contention"
    out = capsys.readouterr().out
    assert "| one process | this |" in out and "| two processes | this |" in out
    assert "No failed request, no lost write." in out


def test_axum_bench_runs_and_every_variant_behaves() -> None:
    """benches/axum-bench, one tiny round in a debug build (its own redis-server included):
    every variant's behaviour checks pass and the table lists them all."""
    done = subprocess.run(
        [*CARGO_RUN_AXUM_BENCH, "--quick", "--rounds", "1", "--batch-ms", "2"],
        cwd=BENCH.parent.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    for variant in ("scsession-cookie", "scsession-redis", "tower-sessions-redis", "memory ratio"):
        assert variant in done.stdout
    assert "| untouched |" in done.stdout
