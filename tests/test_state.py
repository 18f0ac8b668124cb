"""State in one place (bot/state/): no module keeps mutable state of its own, and importing
the bot changes nothing around it. Two applications in one process (the tests build one per
test) must never share a cache, a throttle or a pending answer by accident."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

BOT = ROOT / "bot"

# Module-level containers that are mutated, each with the reason it cannot live in BotData.
ALLOWED_MUTABLE = {
    # Prometheus metrics are process-wide by design (one registry, one /metrics page): the
    # label values of its counters are too. Bounded by METRIC_METHODS_BOUND.
    ("bot/runtime/metrics.py", "_seen_methods"),
}
CONTAINER_CALLS = {"set", "dict", "list", "defaultdict", "OrderedDict", "deque"}
CONTAINERS = (ast.Dict, ast.List, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)


def _module_containers(path: Path) -> list[str]:
    """Names bound at module level to a new mutable container."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        call = (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id in CONTAINER_CALLS
        )
        if isinstance(value, CONTAINERS) or call:
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def test_no_module_keeps_mutable_state_or_rebinds_a_global() -> None:
    found = set()
    for path in sorted(BOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for name in _module_containers(path):
            # UPPER_CASE (and __all__) are constant tables by the house's convention.
            if not (name.lstrip("_").isupper() or name == "__all__"):
                found.add((rel, name))
        for node in ast.walk(ast.parse(path.read_text())):
            assert not isinstance(node, ast.Global), f"{rel}:{node.lineno}: global {node.names}"
    assert found == ALLOWED_MUTABLE


def test_importing_every_bot_module_leaves_the_environment_alone() -> None:
    """Nothing writes os.environ at import (PTB_TIMEDELTA is set by build_application)."""
    script = (
        "import importlib, json, os, pkgutil\n"
        "before = dict(os.environ)\n"
        "import bot\n"
        "for m in pkgutil.walk_packages(bot.__path__, 'bot.'):\n"
        "    if m.name != 'bot.__main__':\n"
        "        importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(set(os.environ.items()) ^ set(before.items()))))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
