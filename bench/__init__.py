"""The benchmark of llm-gateway against the direct upstream and LiteLLM (`make bench`).

`run.py` orchestrates; `systems.py` starts the upstreams and the systems under test;
`load.py` drives k6 and wrk; `streams.py` is the streaming client; `scenarios.py` holds the
measurements; `report.py` writes docs/benchmarks.md. Never part of `make test`.
"""
