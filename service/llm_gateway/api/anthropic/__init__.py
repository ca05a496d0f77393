"""The Anthropic Messages API surface: requests in, answers, events and errors out."""
