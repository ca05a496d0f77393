"""Generated protobuf and gRPC modules of the `llm_gateway.v1` API (see `make generate`)."""
