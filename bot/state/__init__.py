"""The application's state in one place: ``BotData`` and ``BotContext`` (context.py), the
webhook's in-reply answers (replies.py) and the picture worker with its cache (drawing.py).
Every cache here is bounded by ``core/limits.py``; ``runtime/`` is transport only."""
