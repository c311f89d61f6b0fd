"""English decision models (issue 19): when to answer an English question from the Chinese KB.

The KB is Chinese, with a few English similar questions per entry; the multilingual encoders
rank English questions well (hit@3 about 0.95) but score them lower than Chinese ones, so the
decision models fitted on Chinese (team paraphrases, real customers' questions: ``retrieval.py``,
``realcal.py``) send most English questions to fallback although the right entry is on top.

So English queries get a third pair of logistic models over the same features (P(top entry
right), P(right entry in the top 3)), fitted on English questions only: the English calibration
set ``knowledge_base/eval/english_dev.yml`` (written apart from the evaluation ``english.yml``)
and its English out-of-scope lines, searched through the shipped code
(``python -m bench english_cal``). Thresholds: answer at ``TARGET_ENGLISH_PRECISION`` out of
fold, with at most 2 % of the English out-of-scope lines reaching it; clarify where 90 % of
them fall below.

What ships is numbers only (``english_calibration.json`` next to this module). The models apply
only when the query is English (``vocab.language.detect`` says ``en``); Chinese and mixed
queries are decided exactly as before. For English queries, the Chinese models' own answers
and clarifies still count (they are stricter on English, never looser), so the English models
only add decisions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.search.retrieval import ALPHA, BETA, FEATURES, RealLanguage
from vocab.language import detect

logger = logging.getLogger(__name__)

ENGLISH_CALIBRATION_FILE = Path(__file__).with_name("english_calibration.json")
TARGET_ENGLISH_PRECISION = 0.90  # precision of direct English answers (the brief's target)
FORMAT = 1
_ORDER = {"fallback": 0, "clarify": 1, "answer": 2}


def is_english(text: str) -> bool:
    """The query is English (not Chinese, not mixed, not a payload)."""
    return detect(text) == "en"


@dataclass(frozen=True)
class EnglishCalibration:
    """The English models and thresholds (a ``RealLanguage`` pair fitted on English)."""

    models: RealLanguage

    @property
    def fingerprint(self) -> str:
        return self.models.fingerprint

    def probabilities(self, feats: np.ndarray) -> dict[str, float]:
        answer, scope = self.models.predict(feats)
        return {"en_answer": float(answer[0]), "en_scope": float(scope[0])}

    def decision(self, p: dict[str, float]) -> str:
        if p["en_answer"] >= self.models.t_answer:
            return "answer"
        if p["en_scope"] >= self.models.t_clarify:
            return "clarify"
        return "fallback"

    def decide(self, query: str, feats: np.ndarray, decision: str
               ) -> tuple[str, dict[str, float]]:
        """(decision, English probabilities) for ``query`` given the Chinese models'
        ``decision``: unchanged (and no probabilities) unless the query is English; for English,
        the more decisive of the two (answer > clarify > fallback)."""
        if not is_english(query):
            return decision, {}
        p = self.probabilities(feats)
        english = self.decision(p)
        return (english if _ORDER[english] > _ORDER[decision] else decision), p

    def thresholds(self) -> dict[str, float]:
        return {"en_answer": self.models.t_answer, "en_clarify": self.models.t_clarify}


def load_english_calibration(path: Path = ENGLISH_CALIBRATION_FILE) -> EnglishCalibration | None:
    """The committed English models, or None (missing, unreadable, or made for another
    scoring: then English queries are decided by the Chinese models alone)."""
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError) as exc:
        logger.warning("no English calibration at %s (%s)", path, exc)
        return None
    if data.get("format") != FORMAT or tuple(data.get("features", ())) != FEATURES \
            or data.get("alpha") != ALPHA or data.get("beta") != BETA:
        logger.warning("English calibration %s was made for another scoring; ignored", path)
        return None
    models = RealLanguage.from_json(data)
    return EnglishCalibration(dataclasses.replace(
        models, fingerprint=hashlib.sha256(raw).hexdigest()[:12]))


def english_document(models: RealLanguage, report: dict[str, Any],
                     provenance: dict[str, Any]) -> dict[str, Any]:
    """The JSON that ships (numbers and provenance only, never a question's text)."""
    return {"format": FORMAT, "features": list(FEATURES), "alpha": ALPHA, "beta": BETA,
            "target_precision": TARGET_ENGLISH_PRECISION, **models.to_json(),
            "report": report, "provenance": provenance}
