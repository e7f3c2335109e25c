"""Loaded by every Python process whose ``PYTHONPATH`` holds this folder (``arm_dev.ray_calls``
sets it for the Ray it starts): when ``ray.serve.handle`` is imported, ``DeploymentHandle.remote``
is wrapped to append one line per call, ``caller<TAB>Deployment.method``, to ``ARM_CALL_LOG``.
Without that variable it does nothing."""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

LOG = os.environ.get("ARM_CALL_LOG")


def _count_calls(module: ModuleType) -> None:
    handle_class = module.DeploymentHandle
    remote = handle_class.remote

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            from ray import serve

            caller = serve.get_replica_context().deployment
        except Exception:  # not in a replica: Serve's proxy, or the driver
            caller = "proxy"
        method = getattr(self.handle_options, "method_name", "?")
        with open(str(LOG), "a") as log:  # O_APPEND: lines of several processes stay whole
            log.write(f"{caller}\t{self.deployment_name}.{method}\n")
        return remote(self, *args, **kwargs)

    handle_class.remote = counted


class _WhenImported(importlib.abc.MetaPathFinder):
    """Finds ``ray.serve.handle`` as usual, and patches it once it has run."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "ray.serve.handle":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        run_module = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            _count_calls(module)

        loader.exec_module = exec_module
        return spec


if LOG:
    sys.meta_path.insert(0, _WhenImported())
