"""The code reads one way, from the ground up:

    core            the user model, uploads and the sandbox, request helpers, queues, rate limits, cache
    stories         stories, chapters, revisions, world entries, access to them
    characters      characters, casts, relationships (a character appears in stories)
    pictures        portraits and scene pictures: storing, making, serving (a picture shows a character)
    agents          plain Python that reads the writer's data and calls models
    generation      tasks: starting, running and showing the agents' work
    interop, api    files writers bring or take; the JSON API
    storyassistant  configuration: settings, URLs, ASGI/WSGI, management commands

Each app imports only from the apps below it, never from one beside or above it, so there are no cycles between
apps. Every import counts, including one inside a function: such an import only hides the direction it goes.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"core": 0, "stories": 1, "characters": 2, "pictures": 3, "agents": 4, "generation": 5, "interop": 6,
          "api": 6, "storyassistant": 7}  # fmt: skip
# Inside generation, the same rule: each module may import only those before it in this order.
GENERATION_ORDER = [
    "models", "forms", "admin", "dispatch", "live", "steps", "reporting", "pipeline", "tasks", "consumers", "routing",
    "templatetags", "views", "picture_views", "urls", "apps",
]  # fmt: skip


def app_modules():
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "tests" in parts or "migrations" in parts:
                continue
            yield ".".join(p for p in parts if p != "__init__"), path


def imports(module: str, path: Path):
    """Every name a module imports, in full: "from .models import Story" in stories.views is stories.models.Story."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = node.module if not node.level else ".".join(filter(None, [base, node.module]))
            yield from (f"{target}.{alias.name}" for alias in node.names)


def test_apps_import_only_from_apps_below_them():
    wrong = []
    for module, path in app_modules():
        own = module.split(".")[0]
        for target in imports(module, path):
            app = target.split(".")[0]
            if app in LAYERS and app != own and LAYERS[app] >= LAYERS[own]:
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


def test_no_module_imports_itself_through_others():
    """No cycles between modules either: each module can be read knowing only the modules it imports."""
    modules = dict(app_modules())
    graph = {module: set() for module in modules}
    for module, path in modules.items():
        for target in imports(module, path):
            # "from package import name" names a module or something the package defines: the longest known prefix
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module:
                graph[module].add(target)
    cycles, state = [], {}

    def visit(module, trail):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(trail[trail.index(target) :] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []
