# syntax=docker/dockerfile:1
# A small image of the gateway; `llm-gateway up` runs it with its Envoy sidecar, and
# docker-compose.yml runs the two as separate services of this same image.

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

FROM python:3.11-slim
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin gateway
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY config/gateway.yaml /etc/llm-gateway/gateway.yaml
USER 10001
ENV LLM_GATEWAY_REST=0.0.0.0:8080 LLM_GATEWAY_GRPC=0.0.0.0:50051
EXPOSE 8080 50051
ENTRYPOINT ["llm-gateway"]
CMD ["up", "--config", "/etc/llm-gateway/gateway.yaml"]
