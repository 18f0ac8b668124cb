"""The peer's own virtual environment: aiogram for bench/aiogram_app.py, never the bot's.

    python -m bench.peer        # make (or check) bench/.peer-venv and print its python

Made on first use by bench/run.py; git-ignored. aiogram pins its own pydantic, aiohttp and
magic-filter, so it must not share the bot's environment: the bot's dependencies stay its own.
uvloop too: aiogram's ``fast`` extra, which its ``run_polling`` picks up by itself.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import venv
from pathlib import Path

VENV = Path(__file__).resolve().parent / ".peer-venv"
REQUIREMENTS = ["aiogram==3.31.*", "uvloop; sys_platform != 'win32'"]
PYTHON = VENV / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _ready() -> bool:
    if not PYTHON.exists():
        return False
    probe = subprocess.run(
        [str(PYTHON), "-c", "import aiogram; print(aiogram.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.returncode == 0


@functools.cache  # once a run: the probe imports aiogram, a second of CPU
def ensure() -> Path:
    """The peer venv's python, after creating the venv and installing aiogram if needed."""
    if _ready():
        return PYTHON
    print(f"bench: creating the aiogram peer's venv at {VENV} ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS],
        check=True,
    )
    if not _ready():
        raise RuntimeError(f"aiogram did not install into {VENV}")
    return PYTHON


@functools.cache
def version() -> str:
    out = subprocess.run(
        [str(ensure()), "-c", "import aiogram; print(aiogram.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


if __name__ == "__main__":
    print(ensure(), "aiogram", version())
