"""The layout the code promises: every stage's cores import without Ray, deployment modules
stay thin, nothing hides imports behind E402 banners."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("deployments", "models")


def _modules() -> list[Path]:
    """Every module of the packages but ``__main__`` ones (a command runs when imported)."""
    return sorted(
        p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if p.name != "__main__.py"
    )


def _is_deployment(path: Path) -> bool:
    return path.name == "deployment.py" or path.name.endswith("_deployment.py")


def _dotted(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def test_every_core_module_imports_without_ray() -> None:
    cores = [_dotted(p) for p in _modules() if not _is_deployment(p)]
    script = f"""
import importlib, importlib.abc, sys

class NoRay(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"{{name}} is not importable here")
        return None

sys.meta_path.insert(0, NoRay())
for name in {cores!r}:
    importlib.import_module(name)
assert not any(m == "ray" or m.startswith("ray.") for m in sys.modules), "ray was imported"
print(len({cores!r}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) == len(cores) >= 25


# Packages that no deployment is: shared helpers, the local index (a library of the fetcher and
# of the ingest job), the ingest job, what runs inside Serve's proxy, and the stores.
LIBRARIES = ("common", "index", "ingest", "proxy", "store")


def test_each_stage_package_has_one_thin_deployment_module() -> None:
    stages = [p for p in (ROOT / "deployments").iterdir() if (p / "__init__.py").exists()]
    for stage in stages:
        if stage.name in LIBRARIES:
            assert not [p for p in stage.glob("*.py") if _is_deployment(p)]
            continue
        deployments = [p for p in stage.glob("*.py") if _is_deployment(p)]
        assert deployments, f"{stage.name} has no deployment module"
        for module in deployments:
            lines = len(module.read_text().splitlines())
            assert lines <= 110, (
                f"{module.relative_to(ROOT)} has {lines} lines: move logic to a core"
            )


def test_cores_stay_small_and_no_import_banners() -> None:
    for module in _modules():
        lines = len(module.read_text().splitlines())
        assert lines <= 350, f"{module.relative_to(ROOT)} has {lines} lines: split it by concern"
    everywhere = [*ROOT.glob("*.py"), *(p for d in ("bench", "arm_dev", "tests", *PACKAGES)
                                        for p in (ROOT / d).rglob("*.py"))]  # fmt: skip
    banner = "noqa: " + "E402"  # spelled apart so that this file does not match itself
    for module in everywhere:
        assert banner not in module.read_text(), f"{module.relative_to(ROOT)}: an import banner"


def _deployment_classes() -> list[tuple[Path, ast.ClassDef]]:
    found = []
    for module in _modules():
        if not _is_deployment(module):
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                "serve.deployment" in ast.unparse(d) for d in node.decorator_list
            ):
                found.append((module, node))
    return found


UNTYPED = re.compile(r"\b(dict|Mapping)\[str, Any\]|\bdict\b(?!\[)|\bAny\b")


def _stage_interfaces() -> list[tuple[str, ast.ClassDef]]:
    """Every class whose methods one stage calls on another: the deployments, the Protocols
    of models.contracts, the handle adapters the Ingress calls them through."""
    classes = [(str(m.relative_to(ROOT)), c) for m, c in _deployment_classes()]
    for path in (ROOT / "models" / "contracts.py", ROOT / "deployments/ingress/flow/handles.py"):
        tree = ast.parse(path.read_text())
        classes += [
            (path.name, n)
            for n in tree.body
            if isinstance(n, ast.ClassDef)
            and ("Protocol" in map(ast.unparse, n.bases) or n.name.endswith("Handle"))
        ]
    return classes


def test_stage_methods_take_typed_requests_not_long_argument_lists() -> None:
    """What one stage asks of another travels as one typed request (models.contracts): no
    stage method takes more than four positional parameters besides ``self``, or an untyped
    dict (or ``Any``), in or out."""
    classes = _stage_interfaces()
    assert len(classes) >= 6 + 4 + 4
    for where_file, cls in classes:
        for fn in cls.body:
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if fn.name.startswith("_") or fn.name == "reconfigure":  # Serve's own signature
                continue
            where = f"{where_file}: {cls.name}.{fn.name}"
            positionals = [a.arg for a in fn.args.args if a.arg != "self"]
            assert len(positionals) <= 4, f"{where} takes {positionals}"
            annotations = [a.annotation for a in fn.args.args + fn.args.kwonlyargs]
            signature = " ".join(ast.unparse(a) for a in [*annotations, fn.returns] if a)
            assert not UNTYPED.search(signature), f"{where}: untyped ({signature})"


def test_the_public_api_and_stage_answers_are_typed_models() -> None:
    """No field of a public answer or of a stage's answer is an untyped dict or ``Any``."""
    from pydantic import BaseModel

    import arm_client.models as api
    from models import contracts

    models = [
        m
        for module in (contracts, api)
        for m in vars(module).values()
        if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == module.__name__
    ]
    assert len(models) >= 10
    for model in models:
        for name, field in model.model_fields.items():
            shown = str(field.annotation)
            assert "typing.Any" not in shown, f"{model.__name__}.{name}: {shown}"


def _module_imports(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports at module level (not under TYPE_CHECKING, not
    inside functions: those run later and cannot form an import-time cycle)."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in [node] if not isinstance(node, ast.If | ast.Try) else ast.walk(node):
            if isinstance(sub, ast.Import):
                names.update(a.name for a in sub.names)
            elif isinstance(sub, ast.ImportFrom) and sub.module and not sub.level:
                names.add(sub.module)
                names.update(f"{sub.module}.{a.name}" for a in sub.names)
    return {n for n in names if n in known}


def test_no_import_cycle() -> None:
    roots = [*PACKAGES, "bench", "arm_dev"]
    paths = {
        _dotted(p): p for d in roots for p in (ROOT / d).rglob("*.py") if p.name != "__main__.py"
    }
    paths["graph"] = ROOT / "graph.py"
    graph = {name: _module_imports(path, set(paths)) - {name} for name, path in paths.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, name, dep]))
            if dep not in state:
                visit(dep, [*trail, name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_the_request_flow_reads_as_short_named_steps() -> None:
    path = ROOT / "deployments" / "ingress" / "flow" / "pipeline.py"
    tree = ast.parse(path.read_text())
    (pipeline,) = [
        n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ResearchPipeline"
    ]
    steps = {"_search", "_look_up", "_embed_new", "_rank", "_summarise", "_store"}
    methods = {
        fn.name: fn
        for fn in pipeline.body
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    assert steps <= set(methods)
    for name, fn in methods.items():
        lines = (fn.end_lineno or fn.lineno) - fn.lineno + 1
        assert lines <= 50, f"ResearchPipeline.{name} has {lines} lines"
