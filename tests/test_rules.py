"""Pure rules: repetition (FSRS), streaks, picking, queue, schedules, callback data, config."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import NO_TOKEN_MESSAGE, ConfigError, Settings
from bot.core import rules, schedule, srs
from bot.core.models import Question, QuestionBank
from bot.core.related import spread as related_spread
from bot.ui import callback_data as cd

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_miss_comes_back_within_a_day_and_right_answers_move_it_away() -> None:
    missed = srs.review(None, False, T0)
    assert missed.due_at - T0 == timedelta(minutes=10)  # FSRS's one learning step
    review, now = missed, T0
    gaps = []
    for _ in range(3):
        now = max(now, review.due_at)
        review = srs.review(review.card_json, True, now)
        gaps.append(review.due_at - now)
    assert gaps[0] >= timedelta(days=1)
    assert gaps == sorted(gaps) and gaps[-1] >= timedelta(days=5)  # each right answer: further
    lapse = srs.review(review.card_json, False, now + gaps[-1])
    assert lapse.due_at - (now + gaps[-1]) < timedelta(days=1)  # a lapse relearns in minutes


def test_fsrs_is_deterministic_and_replay_is_the_same_as_answering() -> None:
    """No fuzz: the same answers give the same due dates (tests and /review rely on it)."""
    log = [(False, T0), (True, T0 + timedelta(minutes=15)), (True, T0 + timedelta(days=3))]
    step = None
    for correct, at in log:
        step = srs.review(step.card_json if step else None, correct, at)
    assert step is not None
    assert srs.replay(log) == step == srs.replay(log)
    assert srs.replay([]) is None
    # A time in another zone is the same instant: fsrs wants UTC, srs converts.
    berlin = srs.review(None, True, T0.astimezone(ZoneInfo("Europe/Berlin")))
    assert berlin == srs.review(None, True, T0)


@pytest.mark.parametrize(
    ("days", "today", "expected"),
    [
        ([], "2026-03-05", (0, 0)),
        (["2026-03-05"], "2026-03-05", (1, 1)),
        (["2026-03-03", "2026-03-04"], "2026-03-05", (2, 2)),  # yesterday still counts
        (["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-05"], "2026-03-05", (1, 3)),
        (["2026-03-01", "2026-03-02"], "2026-03-05", (0, 2)),
    ],
)
def test_streaks(days: list[str], today: str, expected: tuple[int, int]) -> None:
    assert rules.streaks(days, today) == expected


def test_local_day_follows_the_users_zone() -> None:
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert rules.local_day(late, ZoneInfo("UTC")) == "2026-03-01"
    assert rules.local_day(late, ZoneInfo("Europe/Berlin")) == "2026-03-02"


def q(qid: str, topic: str = "T") -> Question:
    return Question(id=qid, topic=topic, question="?", answer="!", choices=("a", "b"), correct=0)


def test_pick_unseen_first_then_soonest_due() -> None:
    qs = [q(f"q{i}") for i in range(6)]
    due = {"q0": T0 + timedelta(days=3), "q1": T0 - timedelta(days=1), "q2": T0}
    picked = rules.pick_questions(qs, {"q0", "q1", "q2"}, due, 5, random.Random(1))
    assert set(picked[:3]) == {"q3", "q4", "q5"}
    assert picked[3:] == ["q1", "q2"]
    assert rules.pick_due(qs, due, T0) == ["q1", "q2"]


def test_parse_quiz_args() -> None:
    assert rules.parse_quiz_args([]) == (None, 5)
    assert rules.parse_quiz_args(["async", "10"]) == ("async", 10)
    assert rules.parse_quiz_args(["99"]) == (None, 20)
    assert rules.parse_quiz_args(["0"]) == (None, 1)


def test_topic_matching() -> None:
    bank = QuestionBank(
        {
            "a": q("a", "Concurrency"),
            "b": q("b", "Async and Event Loops"),
            "c": q("c", "Object-Oriented Python"),
            "d": q("d", "CPython Internals"),
        }
    )
    assert bank.match_topic("concurrency") == ["Concurrency"]
    assert bank.match_topic("conc") == ["Concurrency"]
    assert bank.match_topic("event") == ["Async and Event Loops"]
    assert bank.match_topic("oop") == ["Object-Oriented Python"]
    assert bank.match_topic("c") == ["Concurrency", "CPython Internals"]
    assert bank.match_topic("rust") == []


def test_queue_is_stable_complete_and_reshuffled_per_cycle() -> None:
    ids = [f"q{i}" for i in range(50)]
    first = schedule.cycle_queue(ids, set(), "seed", 1)
    assert sorted(first) == sorted(ids)
    assert schedule.cycle_queue(ids, set(), "seed", 1) == first  # stable across restarts
    assert schedule.cycle_queue(ids, {first[0]}, "seed", 1) == first[1:]
    assert schedule.cycle_queue(ids, set(), "seed", 2) != first
    grown = schedule.cycle_queue([*ids, "new"], set(), "seed", 1)
    assert [x for x in grown if x != "new"] == first  # an addition slots in, order kept


def related_pairs(groups: list[set[str]]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for group in groups:
        for qid in group:
            out.setdefault(qid, set()).update(group - {qid})
    return {k: frozenset(v) for k, v in out.items()}


def adjacent_related(order: list[str], related: dict[str, frozenset[str]]) -> list[str]:
    return [f"{a}~{b}" for a, b in itertools.pairwise(order) if b in related.get(a, ())]


def test_spread_keeps_order_but_parts_related_neighbours() -> None:
    related = related_pairs([{"a", "b", "c"}])
    assert related_spread(["a", "b", "x", "c", "y"], related) == ["a", "x", "b", "y", "c"]
    assert related_spread(["x", "y"], related) == ["x", "y"]  # nothing related: unchanged
    # Nothing else to put between them: they stay (a quiz of two twins still runs).
    assert related_spread(["a", "b"], related) == ["a", "b"]


def naive_spread(ids: list[str], related: dict[str, frozenset[str]]) -> list[str]:
    pending, out = list(ids), list[str]()
    while pending:
        near = related.get(out[-1], frozenset()) if out else frozenset()
        pick = next((i for i, qid in enumerate(pending) if qid not in near), 0)
        out.append(pending.pop(pick))
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 11), unique=True, max_size=12),
    st.lists(st.sets(st.integers(0, 11), max_size=4), max_size=4),
    st.integers(0, 12),
)
def test_spread_is_the_simple_rule_in_one_pass(
    order: list[int], groups: list[set[int]], limit: int
) -> None:
    ids = [f"q{i}" for i in order]
    related = related_pairs([{f"q{i}" for i in g} for g in groups])
    expected = naive_spread(ids, related)
    assert related_spread(ids, related) == expected
    assert related_spread(ids, related, limit) == expected[:limit]


def test_queue_never_posts_two_related_entries_in_a_row() -> None:
    ids = [f"q{i}" for i in range(60)]
    related = related_pairs([{f"q{i}" for i in range(0, 12, 2)}, {"q1", "q3", "q5"}])
    for cycle in range(1, 30):
        full = schedule.cycle_queue(ids, set(), "seed", cycle, related)
        assert sorted(full) == sorted(ids)
        assert adjacent_related(full, related) == [], cycle
        # Posting proceeds from the front; what is left keeps the full cycle's order.
        assert schedule.cycle_queue(ids, set(full[:7]), "seed", cycle, related) == full[7:]
    plain = schedule.cycle_queue(ids, set(), "seed", 1)
    assert any(
        adjacent_related(schedule.cycle_queue(ids, set(), "seed", c), related)
        for c in range(1, 30)
    )  # without the rule, twins do meet: the test can fail
    assert sorted(plain) == sorted(ids)


def test_quiz_pick_keeps_related_entries_apart_and_prefers_an_unrelated_one() -> None:
    qs = [q(f"q{i}") for i in range(8)]
    related = related_pairs([{"q0", "q1", "q2", "q3"}])
    for seed in range(40):
        picked = rules.pick_questions(qs, set(), {}, 5, random.Random(seed), related=related)
        assert len(picked) == len(set(picked)) == 5
        assert adjacent_related(picked, related) == [], picked
        two = rules.pick_questions(qs, set(), {}, 2, random.Random(seed), related=related)
        assert adjacent_related(two, related) == [], two
    # Reviews: all of them, most overdue first, except that a twin waits one place.
    due = {f"q{i}": T0 - timedelta(hours=10 - i) for i in range(6)}
    assert rules.pick_due(qs, due, T0, related=related) == ["q0", "q4", "q1", "q5", "q2", "q3"]
    assert rules.pick_due(qs, due, T0) == [f"q{i}" for i in range(6)]


def test_dst_keeps_local_posting_time() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    winter = schedule.todays_post_at(datetime(2026, 3, 28, 6, 0, tzinfo=UTC), berlin, time(9))
    summer = schedule.todays_post_at(datetime(2026, 3, 30, 6, 0, tzinfo=UTC), berlin, time(9))
    assert winter.astimezone(UTC).hour == 8 and summer.astimezone(UTC).hour == 7
    assert schedule.missed_today(datetime(2026, 3, 30, 7, 1, tzinfo=UTC), berlin, time(9))
    assert not schedule.missed_today(datetime(2026, 3, 30, 6, 59, tzinfo=UTC), berlin, time(9))


def test_parse_extra() -> None:
    zone = ZoneInfo("Europe/Berlin")
    req = schedule.parse_extra("2026-12-24 18:00 conc-gil-what", zone)
    assert req.run_at == datetime(2026, 12, 24, 18, 0, tzinfo=zone)
    assert req.question_id == "conc-gil-what"
    for bad in (
        "2026-13-01 10:00",
        "tomorrow 10:00",
        "2026-12-24 25:00",
        "2026-12-24 10:00 BAD_ID",
    ):
        with pytest.raises(ValueError, match=r"."):
            schedule.parse_extra(bad, zone)


def test_callback_data_round_trip_and_rejects_forgeries() -> None:
    data = cd.answer(2**40, 3)
    assert len(data.encode()) <= 64
    decoded = cd.decode(data)
    assert decoded is not None and decoded.int_arg(0) == 2**40 and decoded.int_arg(1) == 3
    for forged in [
        "",
        "a1",
        "a1:0:1",
        "a1:-1:0",
        "a1:1:6",
        "a1:1:0:extra",
        "x1:1:0",
        "a1:1:0\n",
        "m1:Bad_Id",
        "f1:maybe",
        "a1:" + "1" * 70 + ":0",
    ]:
        assert cd.decode(forged) is None, forged
    with pytest.raises(ValueError, match="pattern"):
        cd.answer(1, 9)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_decoded_callback_data_is_exactly_what_we_make(data: str) -> None:
    """Whatever a modified client sends: decode accepts only our own shapes, ASCII digits."""
    decoded = cd.decode(data)
    if decoded is None:
        return
    assert data.isascii() and len(data.encode()) <= cd.MAX_CALLBACK_DATA
    assert ":".join((decoded.kind, *decoded.args)) == data
    for arg in decoded.args:
        if arg.isdigit():
            assert arg.isascii()
            assert int(arg) < 10**18


@pytest.mark.parametrize(
    "forged", ["a1:²:0", "a1:١٢:0", "n1:７", "a1:1:٠", "r1:1e3", "n1: 12", "n1:0x1f", "h1:１"]
)
def test_callback_data_digits_are_ascii_only(forged: str) -> None:
    assert cd.decode(forged) is None


def test_config_reports_every_problem_at_once(tmp_path: Path) -> None:
    env = {
        "POST_TIME": "25:00",
        "TIMEZONE": "Mars/Base",
        "ADMIN_IDS": "12,abc",
        "CHANNEL_ID": "not a channel",
        "RATE_LIMIT": "maybe",
        "LOG_LEVEL": "LOUD",
    }
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env, dotenv=tmp_path / "none")
    problems = info.value.problems
    assert problems[0] == NO_TOKEN_MESSAGE
    joined = "\n".join(problems)
    for name in ("POST_TIME", "TIMEZONE", "ADMIN_IDS", "CHANNEL_ID", "RATE_LIMIT", "LOG_LEVEL"):
        assert name in joined
    assert len(problems) == 7


def test_config_reads_dotenv_and_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("BOT_TOKEN=1:abc\nPOST_TIME=07:15\nADMIN_IDS=1, 2\nTIMEZONE=Europe/Berlin\n")
    s = Settings.from_env({"POST_TIME": "08:00:30"}, dotenv=dotenv)
    assert s.token == "1:abc" and s.post_time == time(8, 0, 30)
    assert s.admin_ids == frozenset({1, 2}) and s.timezone == "Europe/Berlin"
    assert "1:abc" not in repr(s)
    assert s.signature(None) == "By: @<channel> ✨"
    s2 = Settings.from_env({"BOT_TOKEN": "1:a", "CHANNEL_ID": "@chan"}, dotenv=tmp_path / "x")
    assert s2.signature(None) == "By: @chan ✨"


def test_zone_cache_is_bounded_and_keeps_the_newest(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.state import context

    monkeypatch.setattr(context, "CACHE_BOUND", 3)
    zones = context.ZoneCache()
    zones.update({1: "Europe/Berlin", 2: "Asia/Tokyo", 3: "UTC"})
    zones[4] = "America/New_York"
    zones[2] = "Asia/Kolkata"  # set again: now the newest
    assert list(zones) == [3, 4, 2]
    assert zones.get(1) is None
