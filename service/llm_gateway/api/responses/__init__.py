"""OpenAI's Responses API, over any provider, with the state the gateway keeps."""
