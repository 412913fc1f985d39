"""The code reads one way. The writer's data (stories, characters, pictures) knows nothing of the agents; the agents
(plain Python that reads that data and calls models) know nothing of generation (tasks, orchestration, live panels,
views that drive agents); interop (files writers bring or take) and the JSON API sit above them all, reading and
writing any of them. Below them all sits the project's plumbing (storyassistant: the user model, request helpers,
queues, cache, uploads); above them all its entry points (settings, URLs, ASGI, management commands).

Every import counts, including one inside a function: such an import only hides the direction it goes.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"storyassistant": 0, "stories": 1, "characters": 1, "pictures": 1, "agents": 2, "generation": 3, "interop": 4,
          "api": 4}  # fmt: skip
ENTRY_POINTS = ("storyassistant.settings", "storyassistant.urls", "storyassistant.asgi", "storyassistant.wsgi",
                "storyassistant.management")  # fmt: skip
# Inside generation, the same rule: each module may import only those before it in this order.
GENERATION_ORDER = [
    "models", "forms", "admin", "dispatch", "live", "steps", "reporting", "pipeline", "tasks", "consumers", "routing",
    "templatetags", "views", "agent_views", "picture_views", "urls", "apps",
]  # fmt: skip


def app_modules():
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "tests" in parts or "migrations" in parts:
                continue
            yield ".".join(p for p in parts if p != "__init__"), path


def imports(module: str, path: Path):
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
                yield from ((f"{target}.{a.name}" if not node.module else target) for a in node.names)
            else:
                yield node.module


def test_apps_import_only_from_their_own_layer_or_below():
    wrong = []
    for module, path in app_modules():
        if module.startswith(ENTRY_POINTS):
            continue
        layer = LAYERS[module.split(".")[0]]
        for target in imports(module, path):
            app = target.split(".")[0]
            if app in LAYERS and LAYERS[app] > layer and not target.startswith(ENTRY_POINTS):
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_inside_generation_each_module_imports_only_those_before_it():
    rank = {name: index for index, name in enumerate(GENERATION_ORDER)}
    wrong = []
    for module, path in app_modules():
        if not module.startswith("generation.") or module == "generation":
            continue
        own = rank[module.split(".")[1]]
        for target in imports(module, path):
            if target.startswith("generation.") and rank.get(target.split(".")[1], -1) > own:
                wrong.append(f"{module} imports {target}")
    assert wrong == []
