"""A Telegram bot for Python interview practice: a daily channel question and scored quizzes."""

__version__ = "0.1.0"
