"""Generates the Python stubs, the descriptor set and the packaged Envoy config.

Everything written here is derived from `protos/` and `envoy/envoy.yaml`; nothing it writes is
edited by hand. `tests/test_generated.py` runs it into a temporary folder and fails when the
committed output has drifted.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import google.api
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
ENVOY_CONFIG = ROOT / "envoy" / "envoy.yaml"


def googleapis_include() -> Path:
    """Returns the folder that holds `google/api/*.proto` of googleapis-common-protos."""
    return Path(google.api.__path__[0]).parent.parent


def generate(out: Path) -> None:
    """Writes `llm_gateway/v1/*_pb2*.py{,i}`, the descriptor set and the Envoy config under out."""
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    sidecar = out / "llm_gateway" / "sidecar"
    sidecar.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{googleapis_include()}",
        f"-I{Path(protoc.__file__).parent / '_proto'}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        "--include_imports",
        "--include_source_info",
        f"--descriptor_set_out={sidecar / 'descriptor.pb'}",
        *sources,
    ]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    shutil.copyfile(ENVOY_CONFIG, sidecar / "envoy.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder that holds llm_gateway/")
    generate(parser.parse_args().out)


if __name__ == "__main__":
    main()
