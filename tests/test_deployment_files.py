"""docker-compose.yml against the Compose specification, and what the package ships."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_compose_file_matches_the_compose_spec() -> None:
    result = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_wheel_runs_from_any_directory(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("llm_gateway-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (
        "llm_gateway/v1/chat_pb2.py",
        "llm_gateway/v1/llm_gateway_service_pb2_grpc.py",
        "llm_gateway/sidecar/descriptor.pb",
        "llm_gateway/sidecar/envoy.yaml",
        "llm_gateway/model/validators/chat_completions.py",
        "llm_gateway/py.typed",
    ):
        assert shipped in names, shipped
    # Installed on its own (dependencies from this environment), away from the checkout.
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    config = tmp_path / "gateway.yaml"
    config.write_text(
        "providers: {p: {type: openai, base_url: 'http://127.0.0.1:9/v1'}}\n"
        "models: {m: {provider: p, model: m}}\n"
        "keys: [{name: k, key: 'sk-12345678'}]\n"
    )
    probe = (
        "import llm_gateway, sys; from llm_gateway.model import RequestValidator;"
        "RequestValidator(); assert llm_gateway.__file__.startswith(sys.argv[1]);"
        "from llm_gateway.cli import main; sys.exit(main(['envoy-config', '--config', "
        "sys.argv[2]]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(target), str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(target)},
    )
    assert result.returncode == 0, result.stderr
    assert str(target / "llm_gateway" / "sidecar" / "descriptor.pb") in result.stdout
