# The image every Ray pod of k8s/rayservice.yaml runs: Ray 2.60 + the arm, model included.
#   docker build -t research-arm:0.1.0 .
#   docker build -t research-arm:0.1.0-gpu --build-arg BASE=rayproject/ray:2.60.0-py311-gpu \
#                --build-arg EXTRAS=vllm .          # GPU workers (Embedder on CUDA, vLLM)
ARG BASE=rayproject/ray:2.60.0-py311-cpu
FROM ${BASE}
ARG EXTRAS=""
WORKDIR /home/ray/arm
COPY --chown=ray:users pyproject.toml README.md graph.py serve_config.yaml ./
COPY --chown=ray:users deployments ./deployments
COPY --chown=ray:users models ./models
RUN pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}"
ENV HF_HUB_OFFLINE=1
