"""The layering the docs promise, checked on the code: no import cycles, one-way layers, one protocol definition."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from myagent.protocol.catalog import CATALOG

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "myagent"
CONSOLE_JS = PACKAGE / "ui" / "static" / "js"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every ``myagent`` module ``path`` imports at run time, at any depth (lazy imports included).

    Imports under ``if TYPE_CHECKING:`` are left out: they never run.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("myagent")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("myagent"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imports_of(path) & set(modules) - {name} for name, path in modules.items()}


def cycle_in(edges: dict[str, set[str]], within: str) -> list[str] | None:
    nodes = {name for name in edges if name.startswith(within)}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges[node] & nodes):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(nodes):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_server_package_has_no_import_cycle() -> None:
    assert cycle_in(graph(), "myagent.ws") is None, cycle_in(graph(), "myagent.ws")


def test_the_package_as_a_whole_has_no_import_cycle() -> None:
    assert cycle_in(graph(), "myagent") is None, cycle_in(graph(), "myagent")


def test_layers_depend_downwards_only() -> None:
    edges = graph()
    below_the_server = ("myagent.protocol", "myagent.agent", "myagent.llm", "myagent.tool", "myagent.plan_solve")
    for name, targets in edges.items():
        if name.startswith(below_the_server):
            upward = {t for t in targets if t.startswith(("myagent.ws", "myagent.cli", "myagent.client"))}
            assert not upward, f"{name} imports {sorted(upward)}"
        if name.startswith("myagent.protocol"):
            io_layers = {t for t in targets if t.startswith(("myagent.agent", "myagent.llm", "myagent.plan_solve"))}
            assert not io_layers, f"the protocol layer has no I/O and no agent: {name} imports {sorted(io_layers)}"
        if not name.startswith("myagent.cli"):
            assert not {t for t in targets if t.startswith("myagent.cli")}, f"{name} imports the CLI"


def test_the_session_service_knows_nothing_of_starlette_or_connections() -> None:
    transport_free = ["service", "host", "session", "runs", "translate", "store", "event_log", "control", "lease"]
    for module in transport_free:
        text = (PACKAGE / "ws" / f"{module}.py").read_text(encoding="utf-8")
        assert "starlette" not in text and "myagent.ws.connection" not in text, module


def test_the_console_spells_no_event_name_by_hand() -> None:
    names = set(CATALOG)
    for path in CONSOLE_JS.glob("*.js"):
        spelled = {m.group(2) for m in re.finditer(r"([\"'])([a-z]+\.[a-z_]+)\1", path.read_text(encoding="utf-8"))}
        assert not spelled & names, f"{path.name} spells {sorted(spelled & names)}: import them from the client"


def test_the_console_speaks_the_protocol_only_through_the_client() -> None:
    # One JavaScript implementation of the protocol: @myagent/client, vendored into static/vendor.
    for path in CONSOLE_JS.glob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert "WebSocket(" not in text, f"{path.name} opens its own WebSocket: use AgentClient"
    assert "../vendor/myagent-client/index.js" in (CONSOLE_JS / "main.js").read_text(encoding="utf-8")
