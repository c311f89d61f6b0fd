"""Train the Rasa model only when its inputs changed.

The model file is named after a hash of config, domain, training data, the jieba dictionary
and the custom components, so an unchanged project reuses its model without importing
TensorFlow at all, and `make run` / `make test` stay fast.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from bot import paths


def fingerprint() -> str:
    """Hash of every file that influences the trained model."""
    digest = hashlib.sha256()
    files: list[Path] = []
    for item in paths.FINGERPRINT_INPUTS:
        if item.is_dir():
            files.extend(p for p in item.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        elif item.exists():
            files.append(item)
    for file in sorted(files):
        digest.update(str(file.relative_to(paths.ROOT)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def model_path() -> Path:
    """Path of the model that matches the current inputs (it may not exist yet)."""
    return paths.MODELS_DIR / f"cardbot-{fingerprint()}.tar.gz"


def train(force: bool = False) -> Path:
    """Train unless a model for the current fingerprint exists; return its path."""
    target = model_path()
    if target.exists() and not force:
        print(f"Rasa model up to date: {target.relative_to(paths.ROOT)}")
        return target
    from rasa.api import train as rasa_train

    paths.MODELS_DIR.mkdir(parents=True, exist_ok=True)
    result = rasa_train(
        domain=str(paths.DOMAIN),
        config=str(paths.CONFIG),
        training_files=[str(p) for p in paths.TRAINING_DATA],
        output=str(paths.MODELS_DIR),
        fixed_model_name=target.name.removesuffix(".tar.gz"),
    )
    if result.code != 0 or not target.exists():
        raise SystemExit(f"Rasa training failed (code {result.code})")
    # Keep the directory small: older fingerprints are never loaded again.
    for old in paths.MODELS_DIR.glob("cardbot-*.tar.gz"):
        if old != target:
            old.unlink()
    return target


if __name__ == "__main__":
    train(force="--force" in sys.argv)
