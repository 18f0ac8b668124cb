"""The schema, as an append-only list of migrations keyed by ``PRAGMA user_version``
(PostgreSQL: the ``schema_version`` table; its DDL dialect is mapped in ``postgres.py``).

Never edit an entry that has shipped: add a new one. Each runs in its own transaction, so a
database file from any older version is upgraded in place, step by step, and never lost.

An entry is SQL, or a Python step (an async callable given the connection, run inside the
migration's transaction) for data that SQL alone cannot move.

Over 300 lines: it grows by one entry per schema change and never shrinks (an applied entry
is never edited), so the whole history of the schema reads top to bottom here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.core import srs

if TYPE_CHECKING:  # connection.py imports this module
    from bot.db.connection import Conn

PythonStep = Callable[["Conn"], Awaitable[None]]


async def _answers_to_fsrs_cards(db: Conn) -> None:
    """Give every (user, question) with quiz answers the FSRS card its answer log makes.

    The log is replayed in order, so a learner keeps their history: a question missed last
    time is due soon, one answered right three times is days away. The old SM-2 ``reviews``
    rows are left in place (read by nothing), so this step loses nothing if it ever needs
    redoing.
    """
    cur = await db.execute(
        "SELECT user_id, question_id, correct, answered_at FROM answers WHERE source = 'quiz' "
        "ORDER BY user_id, question_id, answered_at, id"
    )
    logs: dict[tuple[int, str], list[tuple[bool, datetime]]] = {}
    for user_id, question_id, correct, answered_at in await cur.fetchall():
        at = datetime.fromisoformat(answered_at)
        logs.setdefault((user_id, question_id), []).append((bool(correct), at))
    rows = []
    for (user_id, question_id), log in logs.items():
        card = srs.replay(log)
        assert card is not None
        rows.append((user_id, question_id, card.card_json, _iso(card.due_at), _iso(log[-1][1])))
    await db.executemany(
        "INSERT INTO cards (user_id, question_id, card, due_at, last_at) VALUES (?, ?, ?, ?, ?)",
        rows,
    )


def _iso(dt: datetime) -> str:
    """As ``connection.iso`` (which imports this module, so it cannot be imported here)."""
    return dt.astimezone(UTC).isoformat(timespec="seconds")


MIGRATIONS: list[str | PythonStep] = [
    # 1: everything the first release needs.
    """
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE users (
        user_id INTEGER PRIMARY KEY,
        first_name TEXT NOT NULL DEFAULT '',
        timezone TEXT,
        hidden INTEGER NOT NULL DEFAULT 0,
        report_asking_id INTEGER,
        created_at TEXT NOT NULL,
        last_seen TEXT NOT NULL
    );
    CREATE TABLE quiz_sessions (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        user_id INTEGER,
        kind TEXT NOT NULL,
        topic TEXT,
        question_ids TEXT NOT NULL,
        position INTEGER NOT NULL DEFAULT 0,
        right_count INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'active',
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE INDEX quiz_sessions_chat ON quiz_sessions (chat_id, status);
    CREATE INDEX quiz_sessions_user ON quiz_sessions (user_id);
    CREATE TABLE askings (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        session_id INTEGER REFERENCES quiz_sessions (id) ON DELETE CASCADE,
        position INTEGER,
        question_id TEXT NOT NULL,
        chat_id INTEGER,
        message_id INTEGER,
        choice_order TEXT NOT NULL,
        choices_sig TEXT NOT NULL,
        created_at TEXT NOT NULL,
        closed INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX askings_session ON askings (session_id);
    CREATE TABLE answers (
        id INTEGER PRIMARY KEY,
        asking_id INTEGER NOT NULL REFERENCES askings (id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL,
        chat_id INTEGER NOT NULL,
        question_id TEXT NOT NULL,
        source TEXT NOT NULL,
        choice INTEGER NOT NULL,
        correct INTEGER NOT NULL,
        points INTEGER NOT NULL,
        answered_at TEXT NOT NULL,
        local_day TEXT NOT NULL,
        UNIQUE (asking_id, user_id)
    );
    CREATE INDEX answers_user ON answers (user_id, source);
    CREATE INDEX answers_time ON answers (source, answered_at);
    CREATE INDEX answers_chat ON answers (chat_id, source);
    CREATE TABLE reviews (
        user_id INTEGER NOT NULL,
        question_id TEXT NOT NULL,
        reps INTEGER NOT NULL,
        interval_days REAL NOT NULL,
        ease REAL NOT NULL,
        lapses INTEGER NOT NULL,
        due_at TEXT NOT NULL,
        last_at TEXT NOT NULL,
        PRIMARY KEY (user_id, question_id)
    );
    CREATE TABLE channel_posts (
        id INTEGER PRIMARY KEY,
        slot TEXT UNIQUE,
        question_id TEXT NOT NULL,
        cycle INTEGER NOT NULL,
        status TEXT NOT NULL,
        asking_id INTEGER REFERENCES askings (id),
        chat_id INTEGER,
        message_id INTEGER,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        error TEXT,
        tally_shown TEXT
    );
    CREATE INDEX channel_posts_cycle ON channel_posts (cycle, question_id);
    CREATE TABLE extra_posts (
        id INTEGER PRIMARY KEY,
        run_at TEXT NOT NULL,
        question_id TEXT,
        created_by INTEGER,
        created_at TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 2: the chat, message, owner and exact callback data of every message with buttons that
    # no asking describes (/forget's confirmation, the leaderboard's hide button, "More on"):
    # a press is honoured only on the message the bot put that data on (contract §6).
    """
    CREATE TABLE keyboards (
        chat_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        data TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (chat_id, message_id)
    );
    CREATE INDEX keyboards_user ON keyboards (user_id);
    CREATE INDEX askings_chat ON askings (chat_id, message_id);
    """,
    # 3: spaced repetition by FSRS: one card (``fsrs.Card.to_dict()`` as JSON) per learner
    # and question, with its due time beside it for /review's query.
    """
    CREATE TABLE cards (
        user_id INTEGER NOT NULL,
        question_id TEXT NOT NULL,
        card TEXT NOT NULL,
        due_at TEXT NOT NULL,
        last_at TEXT NOT NULL,
        PRIMARY KEY (user_id, question_id)
    );
    """,
    # 4: existing learners' answer logs replayed into FSRS cards.
    _answers_to_fsrs_cards,
    # 5: /daily (contract §7). One question per day (the channel's day, in TIMEZONE), shared by
    # the channel's daily slot and every subscriber; one delivery row per subscriber per day,
    # committed before its send, so a restart or a kill neither loses nor repeats one.
    """
    CREATE TABLE daily_subscriptions (
        user_id INTEGER PRIMARY KEY,
        at TEXT,
        since TEXT NOT NULL
    );
    CREATE TABLE daily_questions (
        day TEXT PRIMARY KEY,
        question_id TEXT NOT NULL,
        cycle INTEGER NOT NULL,
        chosen_at TEXT NOT NULL
    );
    CREATE INDEX daily_questions_cycle ON daily_questions (cycle);
    CREATE TABLE daily_deliveries (
        day TEXT NOT NULL,
        user_id INTEGER NOT NULL,
        question_id TEXT NOT NULL,
        due_at TEXT NOT NULL,
        status TEXT NOT NULL,
        session_id INTEGER,
        asking_id INTEGER,
        message_id INTEGER,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (day, user_id)
    );
    CREATE INDEX daily_deliveries_due ON daily_deliveries (status, day, due_at);
    """,
    # 6: running totals beside the answers (db/totals.py), so boards, ranks, /score, /stats and
    # tallies read a few index entries instead of aggregating every answer; built here from
    # the answers already kept.
    """
    CREATE TABLE score_totals (
        user_id INTEGER NOT NULL,
        scope INTEGER NOT NULL,
        period TEXT NOT NULL,
        source TEXT NOT NULL,
        points INTEGER NOT NULL,
        answered INTEGER NOT NULL,
        right_count INTEGER NOT NULL,
        first_id INTEGER NOT NULL,
        hidden INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, scope, period, source)
    ) WITHOUT ROWID;
    CREATE INDEX score_board
        ON score_totals (source, scope, period, hidden, points DESC, first_id);
    CREATE TABLE asking_totals (
        asking_id INTEGER PRIMARY KEY,
        answered INTEGER NOT NULL,
        right_count INTEGER NOT NULL
    );
    CREATE TABLE question_totals (
        question_id TEXT PRIMARY KEY,
        answered INTEGER NOT NULL,
        right_count INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO score_totals (user_id, scope, period, source, points, answered, right_count,
        first_id, hidden)
    SELECT x.user_id, x.scope, x.period, x.source, SUM(x.points), COUNT(*), SUM(x.correct),
        MIN(x.id), COALESCE((SELECT u.hidden FROM users u WHERE u.user_id = x.user_id), 0)
    FROM (
        SELECT id, user_id, 0 AS scope, 'all' AS period, source, points, correct FROM answers
        UNION ALL
        SELECT id, user_id, 0, 'd' || local_day, source, points, correct FROM answers
        UNION ALL
        SELECT id, user_id, 0,
            'w' || date(local_day, '-' || ((CAST(strftime('%w', local_day) AS INTEGER) + 6) % 7)
                || ' days'),
            source, points, correct FROM answers
        UNION ALL
        SELECT id, user_id, chat_id, 'all', source, points, correct FROM answers
        WHERE source = 'quiz' AND chat_id < 0
        UNION ALL
        SELECT id, user_id, chat_id, 'd' || local_day, source, points, correct FROM answers
        WHERE source = 'quiz' AND chat_id < 0
        UNION ALL
        SELECT id, user_id, chat_id,
            'w' || date(local_day, '-' || ((CAST(strftime('%w', local_day) AS INTEGER) + 6) % 7)
                || ' days'),
            source, points, correct FROM answers
        WHERE source = 'quiz' AND chat_id < 0
    ) AS x
    GROUP BY x.user_id, x.scope, x.period, x.source;
    INSERT INTO asking_totals (asking_id, answered, right_count)
    SELECT asking_id, COUNT(*), SUM(correct) FROM answers GROUP BY asking_id;
    INSERT INTO question_totals (question_id, answered, right_count)
    SELECT question_id, COUNT(*), SUM(correct) FROM answers GROUP BY question_id;
    """,
    # 7: the forum topic a quiz runs in (contract §6: its messages go to that topic).
    """
    ALTER TABLE quiz_sessions ADD COLUMN thread_id INTEGER;
    """,
    # 8: mistake reports: when one was asked for (a pending report expires), and each report
    # sent, one per user and question, so nobody can flood the admins (contract §6).
    """
    ALTER TABLE users ADD COLUMN report_since TEXT;
    CREATE TABLE reports (
        user_id INTEGER NOT NULL,
        question_id TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        PRIMARY KEY (user_id, question_id)
    );
    CREATE INDEX reports_time ON reports (user_id, sent_at);
    """,
    # 9: live games in groups (contract §11). One active game per group (the partial unique
    # index); each question's times are kept to the microsecond, as text that sorts as time,
    # so a restart resumes it with its deadline; a game answer is also an ``answers`` row
    # (source 'quiz', so /score and the group's leaderboard count it), its speed points here.
    """
    CREATE TABLE games (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        thread_id INTEGER,
        starter_id INTEGER NOT NULL,
        topic TEXT,
        question_ids TEXT NOT NULL,
        seconds INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'active',
        started_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE UNIQUE INDEX games_one_active ON games (chat_id) WHERE status = 'active';
    CREATE TABLE game_questions (
        game_id INTEGER NOT NULL REFERENCES games (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        asking_id INTEGER NOT NULL UNIQUE,
        opened_at TEXT,
        deadline TEXT,
        closed_at TEXT,
        refreshes TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (game_id, position)
    );
    CREATE TABLE game_answers (
        asking_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        game_id INTEGER NOT NULL,
        position INTEGER NOT NULL,
        correct INTEGER NOT NULL,
        points INTEGER NOT NULL,
        elapsed_ms INTEGER NOT NULL,
        PRIMARY KEY (asking_id, user_id)
    );
    CREATE INDEX game_answers_game ON game_answers (game_id, position);
    """,
    # 10: updates taken from Telegram and not handled before a stop's deadline: Telegram will
    # not send them again, so they are kept and run at the next start (contract §6, §9).
    """
    CREATE TABLE pending_updates (
        update_id INTEGER PRIMARY KEY,
        body TEXT NOT NULL
    );
    """,
    # 11: the weekly recap post (contract §12), one row per week claimed before it is sent,
    # as channel_posts does for the daily post: never twice after a restart or a kill.
    """
    CREATE TABLE weekly_posts (
        slot TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        chat_id INTEGER,
        message_id INTEGER,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        error TEXT
    );
    """,
    # 12: the old SM-2 ``reviews`` table goes: FSRS ``cards`` (migrations 3 and 4) replaced it and
    # nothing has read it since. Plain DDL, the same on PostgreSQL (postgres.ddl maps nothing).
    """
    DROP TABLE IF EXISTS reviews;
    """,
    # 13: several processes on one PostgreSQL (CONTRACT §10). processed_updates: an update
    # one worker acts on is not acted on again by another that Telegram (or the balancer)
    # handed it to; pruned after a day (Telegram keeps an update at most 24 hours). leases:
    # one process at a time does a named thing (long polling) until expires_at, renewed.
    # flood_slots: the bot's one flood budget across processes (runtime/ratelimit.py).
    """
    CREATE TABLE processed_updates (
        update_id INTEGER PRIMARY KEY,
        seen_at TEXT NOT NULL
    );
    CREATE INDEX processed_updates_seen ON processed_updates (seen_at);
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE TABLE flood_slots (
        scope TEXT PRIMARY KEY,
        next_at DOUBLE PRECISION NOT NULL
    );
    """,
    # 14: one user's updates in order across webhook workers (db/workers.py, runtime/order.py).
    # A claim records whose update it is (``fair_key``) and that it is being handled
    # (``handling`` = 1) until the worker that took it has finished it; a worker about to
    # handle a later update of the same key waits for those. Rows written before (and by the
    # long-polling standby, which needs no order across processes) are ``handling`` = 0. The
    # partial index holds the few updates in flight only.
    """
    ALTER TABLE processed_updates ADD COLUMN fair_key INTEGER;
    ALTER TABLE processed_updates ADD COLUMN handling INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX processed_updates_handling ON processed_updates (fair_key, update_id)
        WHERE handling = 1;
    """,
    # 15: a question is the day's question once per cycle, whichever process chose it
    # (services/channel_queue.day_question retries on a conflict). Two processes planning two
    # dates at once could both pick the queue's next question before this; a later date that
    # shares its cycle's question with an earlier one keeps it, moved to cycle 0 (no cycle:
    # the earlier date's row already marks the question chosen in its cycle).
    """
    UPDATE daily_questions SET cycle = 0 WHERE EXISTS (
        SELECT 1 FROM daily_questions AS earlier
        WHERE earlier.cycle = daily_questions.cycle
        AND earlier.question_id = daily_questions.question_id
        AND earlier.day < daily_questions.day
    );
    CREATE UNIQUE INDEX daily_questions_once ON daily_questions (cycle, question_id)
        WHERE cycle > 0;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
