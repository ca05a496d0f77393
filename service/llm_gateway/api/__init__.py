"""The API surfaces: the typed gRPC service and the OpenAI REST facade."""
