"""arm_dev.harness's pure parts: the graph's args against the stand-ins, the light options and
serve_config.yaml's application, with no Ray."""

from __future__ import annotations

from pathlib import Path

from arm_dev.harness import TEST_ARGS, TEST_OPTIONS, ConfigApp, graph_args, light_options


def test_graph_args_keep_every_store_in_the_folder_and_settings_win() -> None:
    args = graph_args("http://a/api/query", Path("/t"), outbox="o/m.sqlite", **TEST_ARGS)
    assert args == {
        "arxiv_api_url": "http://a/api/query",
        "arxiv_min_interval_s": 0.0,
        "qdrant_path": "/t/qdrant",
        "index_path": "/t/index",
        "outbox_path": "/t/o/m.sqlite",
        "fulltext_cache_path": "/t/fulltext",
        "arxiv_num_retries": 1,
        "arxiv_backoff_base_s": 0.05,
    }
    assert graph_args("u", "/t", arxiv_api_url="v", index_path="/i")["arxiv_api_url"] == "v"
    assert graph_args("u", "/t", index_path="/i")["index_path"] == "/i"


def test_light_options_merge_over_each_deployment_and_set_the_ingress_env() -> None:
    merged = light_options({"Ingress": {"max_queued_requests": 1}, "ArxivGate": {"x": 1}})
    assert set(merged) == set(TEST_OPTIONS)  # only the tier's deployments
    assert merged["Ingress"] == {**TEST_OPTIONS["Ingress"], "max_queued_requests": 1}
    env = light_options(env={"ARM_API_KEY": "k"})["Ingress"]["ray_actor_options"]
    assert env == {"num_cpus": 0.05, "runtime_env": {"env_vars": {"ARM_API_KEY": "k"}}}
    assert TEST_OPTIONS["Ingress"]["ray_actor_options"] == {"num_cpus": 0.05}  # not mutated


def test_config_app_reads_serve_config() -> None:
    app = ConfigApp.read()
    assert app.name and app.args["arxiv_api_url"]
    assert "Embedder" in app.options and "name" not in app.options["Embedder"]
