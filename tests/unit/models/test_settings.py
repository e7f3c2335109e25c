"""Settings: the environment over the config's args, each stage its own slice, live tuning,
and secrets that never travel through ``bind()``."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from ray.serve._private.build_app import build_app as serve_build_app

from graph import GraphArgs, build_app, resolve_settings
from models.settings import SECRET_NAMES, Settings, read_secret


def test_environment_overrides_args_and_empty_values_do_not() -> None:
    args = {"arxiv_min_interval_s": 5.0, "summary_max_words": 25, "qdrant_path": "/srv/q"}
    env = {"ARXIV_MIN_INTERVAL_S": "3.5", "SUMMARY_MAX_WORDS": "", "EMBEDDING_THREADS": "2"}
    settings = Settings.load(args, env)
    assert settings.arxiv_min_interval_s == 3.5  # environment wins
    assert settings.summary_max_words == 25  # an empty variable is no override
    assert settings.embedding_threads == 2  # set by the environment alone
    assert settings.qdrant_path == "/srv/q"


def test_bad_values_name_the_setting() -> None:
    with pytest.raises(ValidationError, match="arxiv_min_interval_s"):
        Settings.load({}, {"ARXIV_MIN_INTERVAL_S": "-1"})


@pytest.mark.parametrize(
    "url",
    ["https://export.arxiv.org/api/query", "http://arxiv.org/api/query", "https://ARXIV.ORG/x"],
)
def test_an_interval_under_arxivs_three_seconds_is_refused_on_its_hosts(url: str) -> None:
    with pytest.raises(ValidationError, match="ARXIV_MIN_INTERVAL_S=0 is under 3 s"):
        Settings.load({"arxiv_api_url": url}, {"ARXIV_MIN_INTERVAL_S": "0"})
    overridden = Settings(arxiv_api_url=url, arxiv_min_interval_s=0, arxiv_interval_override=True)
    assert overridden.for_stages().gate.least_interval_s == 0.0  # a mirror under that name
    assert Settings(arxiv_api_url=url).for_stages().gate.least_interval_s == 3.0


def test_any_interval_is_allowed_off_arxivs_hosts() -> None:
    for url in ("http://127.0.0.1:8081/api/query", "https://notarxiv.org/api", "http://mirror/q"):
        gate = Settings(arxiv_api_url=url, arxiv_min_interval_s=0).for_stages().gate
        assert gate.least_interval_s == 0.0 and gate.tuning.min_interval_s == 0.0


def test_every_setting_reaches_a_stage() -> None:
    """A setting no stage receives would be silently ignored."""
    base = Settings().for_stages()
    changed = {
        "arm_id": "other",
        "arxiv_api_url": "http://127.0.0.1:1/api/query",
        "arxiv_min_interval_s": 9.0,
        "arxiv_interval_override": True,
        "arxiv_timeout_s": 9.0,
        "arxiv_num_retries": 9,
        "arxiv_backoff_base_s": 9.0,
        "arxiv_cache_ttl_s": 9.0,
        "arxiv_cache_size": 9,
        "arxiv_max_results": 9,
        "arxiv_source": "hybrid",
        "arxiv_html_url": "http://mirror.example.org/html",
        "arxiv_pdf_url": "http://mirror.example.org/pdf",
        "fulltext_timeout_s": 9.0,
        "fulltext_max_bytes": 1 << 20,
        "fulltext_cache_path": "/texts-elsewhere",
        "fulltext_cache_bytes": 9,
        "passages_collection": "other_passages",
        "evidence_deadline_s": 9.0,
        "index_path": "/index-elsewhere",
        "index_collection": "other_index",
        "qdrant_url": "http://qdrant:6333",
        "qdrant_path": "/elsewhere",
        "qdrant_collection": "other",
        "outbox_path": "/outbox-elsewhere.sqlite",
        "outbox_max_entries": 9,
        "memory_write_timeout_s": 9.0,
        "max_in_flight": 9,
        "request_deadline_s": 9.0,
        "mcp_allowed_hosts": "arm.example.org",
        "embedding_model": "/models/x",
        "embedding_dimension": 9,
        "embedding_device": "cuda",
        "embedding_batch_size": 9,
        "embedding_max_batch_size": 9,
        "embedding_batch_wait_timeout_s": 0.5,
        "embedding_max_texts": 9,
        "embedding_cache_size": 9,
        "embedding_threads": 9,
        "summarizer_backend": "openai",
        "summarizer_model": "m",
        "summarizer_context": False,
        "summary_max_words": 9,
        "summary_timeout_s": 9.0,
        "summary_cache_size": 9,
        "openai_base_url": "http://127.0.0.1:2/v1",
        "query_cache_size": 9,
        "arm_docs": False,
    }
    assert set(changed) == set(Settings.model_fields), "a new setting needs a line here"
    for name, value in changed.items():
        stages = Settings(**{name: value}).for_stages()
        moved = [s for s in type(base).model_fields if getattr(stages, s) != getattr(base, s)]
        assert moved, f"{name} reaches no stage"


def test_a_stage_slice_holds_only_its_own_settings() -> None:
    stages = Settings(openai_base_url="http://x/v1", qdrant_path="/q").for_stages()
    assert "openai_base_url" not in stages.embedder.model_dump_json()
    assert "/q" not in stages.summarizer.model_dump_json()
    assert stages.memory.qdrant_path == "/q"


def test_live_tuning_lays_user_config_over_the_slice() -> None:
    embedder = Settings(embedding_cache_size=100).for_stages().embedder
    tuned = embedder.tuned({"max_batch_size": 64})
    assert tuned.tuning.max_batch_size == 64 and tuned.tuning.cache_size == 100
    assert tuned.model == embedder.model  # what needs a restart is not tunable live
    with pytest.raises(ValidationError, match="model"):
        embedder.tuned({"model": "/other"})
    with pytest.raises(ValidationError, match="max_batch_size"):
        embedder.tuned({"max_batch_size": 0})


def test_secrets_are_read_from_the_replicas_environment_only() -> None:
    env = {"ARM_API_KEY": "k1", "OPENAI_API_KEY": "", "QDRANT_API_KEY": "k3"}
    assert read_secret("arm_api_key", env).get_secret_value() == "k1"
    assert read_secret("openai_api_key", env) is None
    for name in SECRET_NAMES:
        assert name not in Settings.model_fields  # not a setting: never in args or bind()
        with pytest.raises(ValidationError, match=name):
            GraphArgs.model_validate({name: "leaked"})  # refused in serve_config.yaml's args


def test_no_secret_passes_through_bind(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {"ARM_API_KEY": "s3cret-arm", "OPENAI_API_KEY": "s3cret-oa", "QDRANT_API_KEY": "qk"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    app = build_app(
        {"summarizer_backend": "openai", "openai_base_url": "http://127.0.0.1:9/v1"},
        environ={**secrets, "SUMMARIZER_MODEL": "m"},
    )
    # What Serve ships to each replica (and keeps in its checkpoint): the serialised init args.
    built = serve_build_app(app, name="secrets")
    shipped = [d._replica_config.serialized_init_args for d in built.deployments]
    assert len(shipped) == 7 and all(shipped)
    for blob in shipped:
        for value in secrets.values():
            assert value.encode() not in blob
    assert any(b"http://127.0.0.1:9/v1" in blob for blob in shipped)  # the settings do travel


def test_vllm_request_model_comes_from_llm_config() -> None:
    stages, llm_config = resolve_settings(
        {
            "summarizer_backend": "vllm",
            "llm_config": {"model_loading_config": {"model_id": "qwen-0.5b", "model_source": "/m"}},
        },
        environ={},
    )
    assert stages.summarizer.model == "qwen-0.5b" and llm_config is not None
    explicit, _ = resolve_settings(
        {"summarizer_backend": "vllm", "llm_config": {"model_loading_config": {"model_id": "a"}}},
        environ={"SUMMARIZER_MODEL": "b"},
    )
    assert explicit.summarizer.model == "b"


def test_the_builder_reads_the_vector_size_off_the_model_folder() -> None:
    from deployments.common.packaged_model import model_dimension
    from graph import resolve_settings

    assert model_dimension(None) == 384  # the packaged all-MiniLM-L6-v2
    assert model_dimension("sentence-transformers/all-mpnet-base-v2") is None  # a hub id
    stages, _ = resolve_settings({}, environ={})
    assert stages.memory.dimension == 384
    stages, _ = resolve_settings({}, environ={"EMBEDDING_DIMENSION": "768"})
    assert stages.memory.dimension == 768
