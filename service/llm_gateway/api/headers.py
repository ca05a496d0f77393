"""The response headers (REST) and trailing metadata (gRPC) that say what the gateway decided.

Apart from the surfaces that send them, so that what only names them (the proxy's config, the
REST framing) does not load the surfaces.
"""

# The deployment that served the call (or failed it last).
DEPLOYMENT_HEADER = "x-llm-gateway-deployment"
# The caller's fields that a translation to another API family left out, comma-separated.
DROPPED_HEADER = "x-llm-gateway-dropped"
