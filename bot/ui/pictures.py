"""PNG pictures: a learner's progress, the channel's last posts, the week's recap.

Pure drawing: plain data in, PNG bytes out; no Telegram, no database. matplotlib is imported
inside the drawing functions only, so a bot that never draws never loads it (about 40 MB and a
second of start-up). Only the object-oriented API is used (``Figure`` + ``FigureCanvasAgg``):
pyplot keeps global state and is not safe off the main thread, and these functions run in a
worker thread (services.pictures).

Looks: one opaque dark card (Telegram shows a picture as is: a transparent one would lose its
black text in dark mode, a white one glares there), light text, a blue and an amber that stay
apart for the common colour-blindnesses, large type for a phone, no grid boxes or legends
where a label says it. Same data, same bytes: no timestamp or software name in the PNG.
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec

P = ParamSpec("P")

WIDTH_IN = 8.0  # inches; at DPI this is 1200 px (Telegram shows up to 1280 without scaling)
DPI = 150
BACKGROUND = "#1f2430"
PANEL = "#272d3b"
TEXT = "#e8eaf0"
MUTED = "#9aa3b5"
BLUE = "#4c9be8"
AMBER = "#f2a93b"
RED = "#ef5b5b"
FONT = 15
MAX_BARS = 8  # topics shown in /progress: the weakest eight, a phone screen's worth


@dataclass(frozen=True, slots=True)
class Day:
    label: str  # e.g. "12-06"
    answered: int
    right: int


@dataclass(frozen=True, slots=True)
class Share:
    """One bar: a topic, or a channel post."""

    label: str
    answered: int
    right: int

    @property
    def pct(self) -> float:
        return 100 * self.right / self.answered if self.answered else 0.0


def _quiet(draw: Callable[P, bytes]) -> Callable[P, bytes]:
    """A name or topic may hold a character DejaVu Sans lacks (an emoji): it is drawn as a box,
    which is no reason for a warning per picture (or an error where warnings are errors)."""

    @functools.wraps(draw)
    def quiet(*args: P.args, **kwargs: P.kwargs) -> bytes:
        with warnings.catch_warnings():  # one drawing at a time per process (state.drawing)
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
            return draw(*args, **kwargs)

    return quiet


def _figure(height_in: float) -> tuple[Any, Any]:
    # Imported here, not at the top: only a bot that draws pays for matplotlib.
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(
        figsize=(WIDTH_IN, height_in), dpi=DPI, facecolor=BACKGROUND, layout="constrained"
    )
    canvas = FigureCanvasAgg(fig)
    return fig, canvas


def _style(ax: Any) -> None:
    ax.set_facecolor(PANEL)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(MUTED)
    ax.tick_params(colors=TEXT, labelsize=FONT - 3, length=0)


def _png(fig: Any, canvas: Any) -> bytes:
    buf = io.BytesIO()
    # No "Software"/date chunks: the same data gives the same bytes (cacheable, testable).
    canvas.print_png(buf, metadata={"Software": None})
    fig.clear()
    return buf.getvalue()


def _days_panel(ax: Any, days: Sequence[Day]) -> None:
    _style(ax)
    xs = list(range(len(days)))
    ax.bar(xs, [d.answered for d in days], color=BLUE, width=0.7)
    top = max([d.answered for d in days] + [1])
    ax.set_ylim(0, top * 1.25)
    ax.set_ylabel("answers", color=BLUE, fontsize=FONT - 2)
    ax.yaxis.get_major_locator().set_params(nbins=4, integer=True)  # AutoLocator: whole answers
    step = max(1, len(days) // 6)
    ticks = [x for x in xs if (len(days) - 1 - x) % step == 0]
    ax.set_xticks(ticks, [days[x].label for x in ticks])
    ax.set_xlim(-0.6, len(days) - 0.4)
    acc = ax.twinx()
    acc.set_ylim(0, 105)
    acc.set_yticks([0, 50, 100], ["0%", "50%", "100%"])
    acc.tick_params(colors=AMBER, labelsize=FONT - 3, length=0)
    for spine in acc.spines.values():
        spine.set_visible(False)
    # Dots, not a line: a day without answers has no accuracy, and a line would invent one.
    points = [(x, 100 * d.right / d.answered) for x, d in zip(xs, days, strict=True) if d.answered]
    if points:
        acc.scatter([p[0] for p in points], [p[1] for p in points], color=AMBER, s=60, zorder=3)
    ax.set_title(
        "Answers per day (bars) · share right (dots)", color=MUTED, fontsize=FONT - 2, loc="left"
    )


def _shares_panel(ax: Any, shares: Sequence[Share], title: str) -> None:
    """Horizontal bars of the share right, weakest first (top)."""
    _style(ax)
    ys = list(range(len(shares)))[::-1]
    ax.barh(ys, [s.pct for s in shares], color=AMBER, height=0.6)
    ax.set_yticks(ys, [_cut(s.label, 22) for s in shares], parse_math=False)
    ax.set_xlim(0, 100)
    ax.set_xticks([0, 50, 100], ["0%", "50%", "100%"])
    for y, s in zip(ys, shares, strict=True):
        ax.text(
            2,
            y,
            f"{round(s.pct)}% of {s.answered}",
            va="center",
            ha="left",
            color=TEXT if s.pct < 40 else BACKGROUND,
            fontsize=FONT - 3,
        )
    ax.set_title(title, color=MUTED, fontsize=FONT - 2, loc="left")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@_quiet
def progress_png(days: Sequence[Day], topics: Sequence[Share], heading: str) -> bytes:
    """Answers per day with accuracy (a month), then accuracy per topic, weakest first."""
    n_topics = min(len(topics), MAX_BARS)
    days_height = 3.6
    topics_height = 0.5 * n_topics + 0.9 if n_topics else 0.0
    fig, canvas = _figure(days_height + topics_height + 0.6)
    fig.suptitle(heading, color=TEXT, fontsize=FONT + 3, x=0.02, ha="left", parse_math=False)
    if n_topics:
        days_ax, topics_ax = fig.subplots(2, 1, height_ratios=[days_height, topics_height])
        _shares_panel(topics_ax, topics[:n_topics], "Share right per topic, weakest first")
    else:
        days_ax = fig.subplots(1, 1)
    _days_panel(days_ax, days)
    return _png(fig, canvas)


@_quiet
def posts_png(posts: Sequence[Share], heading: str, hardest: int | None) -> bytes:
    """Answers (bars) and share right (dots) per channel post, oldest first; the hardest red."""
    fig, canvas = _figure(4.6)
    fig.suptitle(heading, color=TEXT, fontsize=FONT + 3, x=0.02, ha="left", parse_math=False)
    ax = fig.subplots(1, 1)
    _style(ax)
    xs = list(range(len(posts)))
    colours = [RED if i == hardest else BLUE for i in xs]
    ax.bar(xs, [p.answered for p in posts], color=colours, width=0.7)
    top = max([p.answered for p in posts] + [1])
    ax.set_ylim(0, top * 1.3)
    ax.set_ylabel("answers", color=BLUE, fontsize=FONT - 2)
    ax.yaxis.get_major_locator().set_params(nbins=4, integer=True)  # AutoLocator: whole answers
    step = max(1, len(posts) // 7)
    ticks = [x for x in xs if (len(posts) - 1 - x) % step == 0]
    ax.set_xticks(ticks, [_cut(posts[x].label, 12) for x in ticks], parse_math=False)
    ax.set_xlim(-0.6, max(len(posts), 3) - 0.4)
    acc = ax.twinx()
    acc.set_ylim(0, 105)
    acc.set_yticks([0, 50, 100], ["0%", "50%", "100%"])
    acc.tick_params(colors=AMBER, labelsize=FONT - 3, length=0)
    for spine in acc.spines.values():
        spine.set_visible(False)
    answered = [(x, p.pct) for x, p in zip(xs, posts, strict=True) if p.answered]
    if answered:
        acc.scatter(
            [a[0] for a in answered], [a[1] for a in answered], color=AMBER, s=60, zorder=3
        )
    if hardest is not None:
        # Above its bar, at the top of the panel (bars stay below 77% of it): x in data,
        # y in axes units. The tick under it turns red too.
        acc.text(  # on the twin axes, which are drawn over the bars' axes and the dots
            hardest,
            0.98,
            f"hardest\n{round(posts[hardest].pct)}%",
            transform=acc.get_xaxis_transform(),
            ha="center",
            va="top",
            color=RED,
            fontsize=FONT - 2,
            fontweight="bold",
            zorder=5,
            bbox={"facecolor": PANEL, "edgecolor": "none", "pad": 1},
        )
        for tick, x in zip(ax.get_xticklabels(), ticks, strict=True):
            if x == hardest:
                tick.set_color(RED)
    ax.set_title(
        "Answers per post (bars) · share right (dots)", color=MUTED, fontsize=FONT - 2, loc="left"
    )
    return _png(fig, canvas)
