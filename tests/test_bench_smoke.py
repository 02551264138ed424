"""`make bench` keeps working: one quick round checks every variant's behaviour before timing.

Only that the bench runs and its behaviour checks hold is asserted here, never its timings:
performance targets live in `make bench` itself.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benches" / "bench_middleware.py"


def test_bench_runs_and_every_variant_behaves(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_middleware", BENCH)
    assert spec is not None and spec.loader is not None
    bench: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick", "--rounds", "1", "--batch-seconds", "0.005"]) == 0
    out = capsys.readouterr().out
    for variant in ("starlette", "starsessions", "scsession-cookie", "scsession-memory"):
        assert variant in out
    assert "untouched" in out
