"""OpenAI's REST API, as raw bodies through the proxy's gRPC-JSON transcoder."""
