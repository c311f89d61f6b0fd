"""Where the Rasa project's inputs and trained models live (relative to the repo root)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOT_DIR = ROOT / "bot"
CONFIG = BOT_DIR / "config.yml"
DOMAIN = BOT_DIR / "domain"  # a directory: one file per feature, merged by Rasa
ENDPOINTS = BOT_DIR / "endpoints.yml"
# APP_ENV=production: PostgreSQL tracker store + Redis lock store (several Rasa replicas)
ENDPOINTS_PRODUCTION = BOT_DIR / "endpoints.production.yml"
CREDENTIALS = BOT_DIR / "credentials.yml"
MODELS_DIR = BOT_DIR / "models"
STORY_TESTS = BOT_DIR / "tests"
# Training data: dialogue in bot/data, NLU in nlu_data/nlu (the jieba dictionary sits apart).
TRAINING_DATA = [BOT_DIR / "data", ROOT / "nlu_data" / "nlu", ROOT / "nlu_data" / "synonyms.yml"]
# Everything whose change must retrain the model.
FINGERPRINT_INPUTS = [
    CONFIG,
    DOMAIN,
    BOT_DIR / "data",
    BOT_DIR / "components",
    ROOT / "nlu_data",
]
