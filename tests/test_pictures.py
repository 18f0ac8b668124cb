"""Pictures without Telegram: valid PNGs within Telegram's limits, the same bytes for the same
data, captions within 1024 characters, WEEKLY_POST parsing, and matplotlib loaded only when
a picture is drawn."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, WeeklyAt, parse_weekly
from bot.db import Store
from bot.state.drawing import Drawer
from bot.ui import captions, pictures
from tests.conftest import ROOT
from tests.fakes import png_size
from tests.helpers import run_cli
from tests.telegram_html import parse, utf16_len

DOCS = ROOT / "docs"
MAX_WIDTH = 1280
MAX_BYTES = 1024 * 1024
TOPICS = ["Concurrency", "Data structures", "Decorators and closures", "Generators", "OOP"]


def sample_days(seed: int = 3, n: int = 30) -> list[pictures.Day]:
    rnd = random.Random(seed)
    start = date(2026, 10, 22)
    out = []
    for i in range(n):
        answered = rnd.choice([0, 0, 2, 4, 6, 9])
        out.append(
            pictures.Day(
                captions.day_label(start + timedelta(days=i)), answered, rnd.randint(0, answered)
            )
        )
    return out


def sample_topics(seed: int = 3) -> list[pictures.Share]:
    rnd = random.Random(seed)
    shares = []
    for topic in TOPICS:
        n = rnd.randint(4, 30)
        shares.append(pictures.Share(topic, n, rnd.randint(0, n)))
    return sorted(shares, key=lambda s: s.pct)


def sample_posts(seed: int = 5, n: int = 30) -> list[pictures.Share]:
    rnd = random.Random(seed)
    start = date(2026, 10, 22)
    out = []
    for i in range(n):
        answered = rnd.randint(5, 120)
        label = captions.day_label(start + timedelta(days=i))
        out.append(pictures.Share(label, answered, rnd.randint(0, answered)))
    return out


def keep(name: str, png: bytes) -> None:
    """UPDATE_DOCS=1 pytest tests/test_pictures.py redraws the README's sample pictures."""
    if os.environ.get("UPDATE_DOCS") == "1":
        DOCS.mkdir(exist_ok=True)
        (DOCS / name).write_bytes(png)


def check_png(png: bytes) -> tuple[int, int]:
    size = png_size(png)
    assert size is not None, "not a PNG"
    width, height = size
    assert 0 < width <= MAX_WIDTH
    assert 0 < height <= 10_000 - width  # Telegram: width + height at most 10000
    assert len(png) <= MAX_BYTES
    assert png.endswith(b"IEND\xaeB`\x82")  # complete, not truncated
    return size


def test_progress_picture_is_a_png_within_limits_and_deterministic() -> None:
    png = pictures.progress_png(sample_days(), sample_topics(), "Alice · Oct 22 – Nov 20")
    check_png(png)
    again = pictures.progress_png(sample_days(), sample_topics(), "Alice · Oct 22 – Nov 20")
    assert again == png  # the same data, the same bytes
    other = pictures.progress_png(sample_days(seed=4), sample_topics(), "Alice · Oct 22 – Nov 20")
    assert other != png  # ... and other data, another picture
    assert b"Software" not in png and b"matplotlib" not in png  # no version stamp
    keep("progress.png", png)


def test_one_answer_gives_a_sensible_picture() -> None:
    days = [pictures.Day(captions.day_label(date(2026, 11, d)), 0, 0) for d in range(1, 30)]
    days.append(pictures.Day("Nov 30", 1, 1))
    png = pictures.progress_png(days, [pictures.Share("OOP", 1, 1)], "Bob · Nov 1 – Nov 30")
    check_png(png)
    # No topic yet (a channel reader): the days alone, still a picture.
    check_png(pictures.progress_png(days, [], "Bob · Nov 1 – Nov 30"))


@pytest.mark.parametrize(
    "name", ["$x$ and $", r"$\frac{1}{0$", "Zoë 🐍 \u202eevil", "<b>&amp;", "\x00\n\t"]
)
def test_any_name_or_topic_draws_as_plain_text(name: str) -> None:
    """Names and topics are text, never mathtext: a '$' cannot break a picture."""
    days = [pictures.Day("Nov 1", 2, 1)]
    check_png(pictures.progress_png(days, [pictures.Share(name, 3, 1)], name))
    check_png(pictures.posts_png([pictures.Share(name, 3, 1)], name, 0))


def test_many_topics_keep_the_picture_within_limits() -> None:
    topics = [pictures.Share(f"Topic number {i} with a long name", 10, i) for i in range(40)]
    width, height = check_png(
        pictures.progress_png(sample_days(), topics[: pictures.MAX_BARS], "x" * 200)
    )
    assert height < 2 * width


def test_posts_picture_marks_the_hardest_and_is_deterministic() -> None:
    posts = sample_posts()
    hardest = captions.hardest_of([(p.answered, p.right) for p in posts])
    assert hardest is not None
    png = pictures.posts_png(posts, "Last 30 channel posts", hardest)
    check_png(png)
    assert png == pictures.posts_png(posts, "Last 30 channel posts", hardest)
    assert png != pictures.posts_png(posts, "Last 30 channel posts", None)
    keep("stats.png", png)
    week = posts[:7]
    week_hardest = captions.hardest_of([(p.answered, p.right) for p in week])
    week_png = pictures.posts_png(week, "The week · Oct 22 – Oct 28", week_hardest)
    check_png(week_png)
    keep("weekly.png", week_png)
    check_png(pictures.posts_png(posts[:1], "One post", 0))


def test_hardest_is_lowest_share_with_enough_answers() -> None:
    rows = [(10, 9), (2, 0), (20, 5), (8, 2)]  # 90%, 0% (too few), 25%, 25% (fewer answers)
    assert captions.hardest_of(rows) == 2
    assert captions.hardest_of(rows, min_answers=1) == 1
    assert captions.hardest_of([(1, 0)]) is None


def _week(n: int, text: str) -> list[captions.PostLine]:
    start = date(2026, 11, 16)
    return [
        captions.PostLine(
            text=f"{text} {i}",
            url=f"https://t.me/pyinterviewq/{100 + i}",
            answered=40 + i,
            right=10 + i,
            day=start + timedelta(days=i % 7),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("posts", "text"),
    [
        (1, "What is the GIL?"),
        (7, "Explain <b>&amp; how</b> the descriptor protocol works " * 6),
        (30, "Why 𝔡𝔬𝔢𝔰 a mutable default argument keep its state between calls? " * 5),
    ],
)
def test_weekly_caption_fits_telegram(posts: int, text: str) -> None:
    caption = captions.weekly_caption(
        _week(posts, text),
        first=date(2026, 11, 16),
        last=date(2026, 11, 22),
        readers=57,
        signature="By: @pyinterviewq ✨",
    )
    plain = parse(caption)  # valid Telegram HTML
    assert utf16_len(plain) <= captions.MAX_CAPTION
    assert "57 readers answered" in plain
    assert "Hardest" in plain
    assert plain.endswith("By: @pyinterviewq ✨")
    assert "https://t.me/pyinterviewq/100" in caption
    if posts == 30:
        assert "more question" in plain  # folded, not cut mid-tag


def test_progress_caption_states_the_numbers() -> None:
    text = captions.progress_caption(
        answered=25,
        right=19,
        active_days=6,
        best=(date(2026, 11, 18), 9),
        topics=[captions.TopicLine("<OOP>", 4, 1), captions.TopicLine("Generators", 10, 9)],
    )
    plain = parse(text)
    assert "25 answers · 19 right · 76% · on 6 days" in plain
    assert "Busiest day: Nov 18 (9 answers)" in plain
    assert "Weakest topic: <OOP> (25% of 4)" in plain
    assert "Strongest: Generators (90% of 10)" in plain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("off", None),
        ("OFF", None),
        ("sun 18:00", WeeklyAt(6, __import__("datetime").time(18, 0))),
        ("Monday 9:30", WeeklyAt(0, __import__("datetime").time(9, 30))),
    ],
)
def test_weekly_post_setting(raw: str, expected: WeeklyAt | None) -> None:
    assert parse_weekly(raw) == expected
    settings = Settings.from_env({"WEEKLY_POST": raw}, require_token=False)
    assert settings.weekly_post == expected


@pytest.mark.parametrize("raw", ["sunday", "sun 25:00", "someday 10:00", "sun 10:00 extra", "7"])
def test_bad_weekly_post_is_one_sentence(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"WEEKLY_POST": raw}, require_token=False)
    (problem,) = info.value.problems
    assert problem.startswith("WEEKLY_POST must be off, or a weekday and time")
    assert problem.count(".") >= 1 and "\n" not in problem


def pid_and(value: int) -> bytes:
    """A stand-in for a drawing: which process ran it."""
    return f"{os.getpid()}:{value}".encode()


async def test_drawer_draws_in_a_worker_process_once_per_data() -> None:
    drawer = Drawer(bound=3)
    try:
        same = await asyncio.gather(*(drawer.draw(("k", 1), 1, pid_and, 1) for _ in range(5)))
        assert len(set(same)) == 1
        assert drawer.drawn == 1  # asked five times at once, drawn once
        worker = int(same[0].split(b":")[0])
        assert worker != os.getpid()  # never in the bot's own process
        assert os.getpriority(os.PRIO_PROCESS, worker) == 19  # behind every press
        assert await drawer.draw(("k", 1), 2, pid_and, 2) == f"{worker}:2".encode()
        assert drawer.drawn == 2  # new data the same day: drawn again
        for i in range(10):  # bounded: the cache is cleared when full
            await drawer.draw(("other", i), i, pid_and, i)
        assert len(drawer._cache) <= 3
    finally:
        drawer.close()


def test_the_bot_does_not_load_matplotlib_until_it_draws(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from bot.app import build_application\n"
        "from bot.config import Settings\n"
        "from bot.core.models import QuestionBank\n"
        "build_application(Settings(token='123456:TEST'), QuestionBank({}))\n"
        "import bot.services.pictures, bot.services.weekly, bot.handlers.profile\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported at start'\n"
        "from bot.ui import pictures\n"
        "pictures.posts_png([pictures.Share('a', 1, 1)], 'x', None)\n"
        "assert 'matplotlib' in sys.modules\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot is not thread-safe'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.sqlite_only  # "no database yet": a file that does not exist
async def test_cli_preview_weekly_writes_the_picture(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.sqlite3"
    env = {"DATABASE_PATH": str(db_path), "CONTENT_DIR": str(ROOT / "content")}
    nothing = run_cli("preview", "weekly", cwd=tmp_path, env=env)
    assert nothing.returncode == 0 and "no database yet" in nothing.stdout
    store = await Store.open(db_path)
    now = datetime.now(UTC)
    post = await store.channel.claim_slot(
        slot=None, question_id="conc-gil-what", cycle=1, now=now - timedelta(days=1)
    )
    assert post is not None
    await store.channel.post_sent(
        post, asking_id=None, chat_id=-1001234567890, message_id=77, now=now - timedelta(days=1)
    )
    await store.close()
    result = run_cli("preview", "weekly", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "the weekly recap as of now: 1 post" in result.stdout
    assert 'href="https://t.me/c/1234567890/77"' in result.stdout  # a private channel's link
    check_png((tmp_path / "weekly-preview.png").read_bytes())
