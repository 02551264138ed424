"""The bench's tables as one PNG chart (matplotlib, Agg backend: no display needed).

Panels, left to right: the in-process overhead over the bare app (µs per request, grouped bars
per scenario) of the middlewares that keep sessions in the process (cookie or memory); the same
for the Redis variants on an axis of their own (they cost 10 to 100 times more: on one axis the
cookie bars would be invisible, and a log axis cannot show a negative, noisy overhead); and, when
the HTTP run happened, requests/s relative to the bare app (1.0 = as fast as no middleware).

Usage from the bench: ``draw(path, overhead, http_ratio, note)``; nothing here knows the bench.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Colors per variant, fixed so that a variant keeps its color across panels and runs.
COLORS = {
    "starlette": "#8c8c8c",
    "starsessions": "#c9a227",
    "scsession-cookie": "#1f6fb4",
    "scsession-memory": "#5aa7e0",
    "starsessions-redis": "#d0703c",
    "scsession-redis": "#2c8c5a",
    "scsession-redis-on-demand": "#8fd19e",
}
# Drawn on a panel of their own.
NETWORK = ("starsessions-redis", "scsession-redis", "scsession-redis-on-demand")


def draw(
    path: Path,
    overhead: dict[str, dict[str, float]],
    http_ratio: dict[str, dict[str, float]] | None,
    note: str,
    http_cpu_ratio: dict[str, dict[str, float]] | None = None,
    http_title: str = "Over HTTP (uvicorn + wrk)",
) -> None:
    """Write the chart to `path` (PNG).

    overhead: scenario -> variant -> µs above bare (in process; bare itself left out).
    http_ratio: scenario -> variant -> req/s relative to bare's, or None (no HTTP panel).
    http_cpu_ratio: the same from the server's CPU time per request (bare's over the
    variant's), drawn as a marker on each bar: on a busy machine req/s also measures how much of
    a core the server got, its CPU time does not.
    note: one line at the bottom (versions, clocks).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = list(overhead)
    variants = list(next(iter(overhead.values()), {}))
    groups = [
        (
            "In process, sessions kept in the process",
            [v for v in variants if v not in NETWORK],
        ),
        ("In process, sessions kept in Redis", [v for v in variants if v in NETWORK]),
    ]
    panels: list[tuple[str, list[str]]] = [g for g in groups if g[1]]
    n = len(panels) + (1 if http_ratio else 0)
    widths = [max(3.0, 0.9 * len(scenarios) * (len(vs) + 1) * 0.35) for _, vs in panels]
    if http_ratio:
        widths.append(4.0)
    fig, axes = plt.subplots(
        1, n, figsize=(sum(widths) + 1.0, 4.6), gridspec_kw={"width_ratios": widths}, squeeze=False
    )
    for ax, (title, vs) in zip(axes[0], panels, strict=False):
        _bars(ax, scenarios, vs, lambda s, v: overhead[s][v], _signed)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("µs per request above the bare app (lower is better)", fontsize=9)
        ax.axhline(0, color="black", linewidth=0.6)
    if http_ratio:
        ax = axes[0][-1]
        http_scenarios = list(http_ratio)
        http_variants = [v for v in next(iter(http_ratio.values()), {}) if v != "bare"]
        _bars(ax, http_scenarios, http_variants, lambda s, v: http_ratio[s][v], "{:.2f}".format)
        if http_cpu_ratio:
            width = 0.8 / max(1, len(http_variants))
            for i, v in enumerate(http_variants):
                xs = [
                    k + (i - (len(http_variants) - 1) / 2) * width
                    for k in range(len(http_scenarios))
                ]
                ys = [http_cpu_ratio[s][v] for s in http_scenarios]
                ax.plot(xs, ys, "D", color="black", markersize=3.5, zorder=3,
                        label="by server CPU time" if i == 0 else None)  # fmt: skip
            ax.legend(fontsize=7, loc="upper left", frameon=False, ncols=2)
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_ylim(0, 1.3)
        ax.set_title(http_title, fontsize=10)
        ax.set_ylabel("requests/s relative to the bare app (higher is better)", fontsize=9)
    fig.suptitle("Session middleware cost per request", fontsize=12)
    fig.text(0.5, 0.005, note, ha="center", va="bottom", fontsize=7, color="#444444")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)


def _bars(
    ax: Axes,
    scenarios: list[str],
    variants: list[str],
    value: Callable[[str, str], float],
    fmt: Callable[[float], str],
) -> None:
    """Grouped bars: one group per scenario, one bar per variant, each labeled with its value."""
    width = 0.8 / max(1, len(variants))
    for i, v in enumerate(variants):
        xs = [k + (i - (len(variants) - 1) / 2) * width for k in range(len(scenarios))]
        ys = [float(value(s, v)) for s in scenarios]
        bars = ax.bar(xs, ys, width, label=v, color=COLORS.get(v))
        ax.bar_label(bars, [fmt(y) for y in ys], fontsize=6, padding=1)
    ax.set_xticks(range(len(scenarios)), scenarios)
    low, high = ax.get_ylim()
    ax.set_ylim(min(low, 0), high + 0.25 * (high - min(low, 0)))  # room for the legend
    ax.legend(fontsize=7, loc="upper left", frameon=False, ncols=2)
    ax.grid(axis="y", linewidth=0.3, alpha=0.6)
    ax.set_axisbelow(True)


def _signed(us: float) -> str:
    return f"{us:+.0f}" if abs(us) >= 100 else f"{us:+.1f}"
