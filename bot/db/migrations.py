"""The schema, as an append-only list of migrations keyed by ``PRAGMA user_version``.

Never edit an entry that has shipped: add a new one. Each runs in its own transaction, so a
database file from any older version is upgraded in place, step by step, and never lost.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
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
    # 3: the forum topic a quiz runs in (contract §6: its messages go to that topic).
    """
    ALTER TABLE quiz_sessions ADD COLUMN thread_id INTEGER;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
