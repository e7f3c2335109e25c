# The image every Ray pod of k8s/ runs: Ray 2.60 + the arm, MiniLM included (a Python package).
#   docker build -t research-arm:0.1.0 .                                  # CPU pods: CPU torch
#   docker build -t research-arm:0.1.0-gpu --build-arg BASE=rayproject/ray:2.60.0-py311-gpu \
#                --build-arg TORCH_INDEX= .                                # GPU pods: CUDA torch
#   docker build -t research-arm:0.1.0-llm --build-arg BASE=rayproject/ray-llm:2.60.0-py312-cu130 \
#                --build-arg TORCH_INDEX= .       # k8s/rayservice-vllm.yaml: Ray Serve LLM + vLLM
# TORCH_INDEX empty: torch comes from PyPI (its Linux wheels are CUDA builds), or stays the one
# the base image ships (ray-llm's, built with its vLLM: never replaced, see the constraint below).
# No HF_HUB_OFFLINE here: the manifests set it on the pods that must not download anything.
ARG BASE=rayproject/ray:2.60.0-py311-cpu
FROM ${BASE}
ARG EXTRAS=""
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# Made by the image's user (ray), not by WORKDIR (root): `pip install .` writes build files here.
RUN mkdir -p /home/ray/arm
WORKDIR /home/ray/arm

# 1. The dependencies, in their own layers: rebuilt only when pyproject.toml changes.
COPY --chown=ray:users pyproject.toml ./
RUN if [ -n "${TORCH_INDEX}" ]; then \
        pip install --no-cache-dir "torch==2.13.0" --index-url "${TORCH_INDEX}"; \
    fi
RUN python -c "import os, tomllib; \
p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
extras = [e for e in os.environ.get('EXTRAS', '').split(',') if e]; \
deps = p['dependencies'] + [d for e in extras for d in p['optional-dependencies'][e]]; \
print('\n'.join(d for d in deps if not d.startswith('research-arm')))" > /tmp/requirements.txt \
    && (pip freeze | grep -iE '^(torch|vllm)==' > /tmp/keep.txt || true) \
    && pip install --no-cache-dir -r /tmp/requirements.txt -c /tmp/keep.txt \
    && rm /tmp/requirements.txt /tmp/keep.txt

# 2. The code: a change here rebuilds only these layers.
COPY --chown=ray:users README.md graph.py serve_config.yaml ./
COPY --chown=ray:users deployments ./deployments
COPY --chown=ray:users models ./models
COPY --chown=ray:users client ./client
RUN pip install --no-cache-dir --no-deps ./client .
