"""GPU tier: marked ``gpu`` and skipped cleanly on machines without CUDA (CI has none)."""

from __future__ import annotations

from pathlib import Path

import pytest


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    has_cuda = _cuda()
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.gpu)
            if not has_cuda:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))
