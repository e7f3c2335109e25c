"""The layout the code promises: every stage's cores import without Ray, deployment modules
stay thin, nothing hides imports behind E402 banners."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("deployments", "models")


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


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


# Packages that no deployment is: shared helpers, and the local index (a library of the
# fetcher and of the ingest job).
LIBRARIES = ("common", "index")


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
