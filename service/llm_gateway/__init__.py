"""llm-gateway: one typed gRPC API and OpenAI's REST API in front of every LLM provider."""

__version__ = "0.1.0"
