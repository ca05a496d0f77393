"""Validators generated from OpenAI's request schemas (see `make generate`)."""
