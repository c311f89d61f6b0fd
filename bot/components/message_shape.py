"""What a message looks like, independent of what the classifier thinks it means.

Dialogue-act intents (greet, thanks, affirm, deny, cancel, inform, chitchat...) are learnt from
short replies. Real cardholders often open a question with the same words ("您好，…", "好的，那…",
"不想要这张卡了怎么办") or put a date or an amount in it, and the classifier then returns the
act and the question is lost. The shape of the message (is it a question, does it talk about a
card matter, how much does it say besides the entity values) tells a reply from a question
whatever the classifier was trained on. Pure Python, so it is tested without a trained model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Question cues. Particles count only at the end of a clause: 吗 inside 吗啡 is no question.
_QUESTION_MARK = re.compile(r"[?？]")
_QUESTION_WORDS = re.compile(
    r"怎么|怎样|咋|如何|为什么|为啥|为何|什么|啥|哪|多少|多久|多长|几[号点天个次期年月张位块钱岁]"
    r"|能不能|可不可以|可以不|行不行|会不会|是不是|有没有|要不要|用不用|算不算|是否|能否|可否"
    r"|请问|求解|求助|请教|大神"
)
_FINAL_PARTICLE = re.compile(r"[吗嘛么呢](?=[\s，,。.！!；;~～…]*(?:$|[，,。.！!；;]))")
_ASCII_RUN = re.compile(r"[A-Za-z0-9]+")
# English question cues (issue 19), matched on whole words of the lowered text.
_EN_QUESTION = re.compile(
    r"(?<![a-z])(?:how|what|whats|why|when|where|which|who|whom|can i|could i|can you|could you"
    r"|do i|does|did|is there|are there|is it|is my|should i|will i|would|am i|may i|any way)"
    r"(?![a-z])"
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_EN_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Shape:
    """The facts the guard decides on."""

    question: bool
    card_terms: tuple[str, ...]
    content_chars: int

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form for the parse data."""
        return {"question": self.question, "card_terms": list(self.card_terms),
                "content_chars": self.content_chars}


@dataclass(frozen=True)
class Lexicon:
    """Card-domain words and the look-alikes removed before matching them."""

    terms: tuple[str, ...]
    lookalikes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, lines: Iterable[str]) -> Lexicon:
        """Read the card_terms.txt format: one term a line, `#` comments, `!` look-alikes."""
        terms: list[str] = []
        lookalikes: list[str] = []
        for raw in lines:
            line = raw.strip().lower()
            if not line or line.startswith("#"):
                continue
            if line.startswith("!"):
                lookalikes.append(line[1:].strip())
            else:
                terms.append(line)
        # Longest first, so a look-alike containing a shorter one is removed whole.
        return cls(tuple(dict.fromkeys(terms)),
                   tuple(sorted(dict.fromkeys(lookalikes), key=len, reverse=True)))

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """Read a card_terms.txt file."""
        return cls.parse(path.read_text(encoding="utf-8").splitlines())


def _term_in(term: str, text: str) -> bool:
    """A Chinese term anywhere; an English term only at the start of a word ("fee" is not in
    "coffee"), so Latin words glued to Chinese ("xyk丢了", "APP里") still count."""
    if not term.isascii():
        return term in text
    return re.search(r"(?<![a-z])" + re.escape(term), text) is not None


def analyse(text: str, lexicon: Lexicon,
            entity_spans: Sequence[tuple[int, int]] = ()) -> Shape:
    """The shape of `text`; `entity_spans` (start, end) are values that do not count as content
    (a bare "15号" or "3000" is an answer to a question the bot asked, however long it is)."""
    lowered = text.lower()
    matchable = lowered
    for lookalike in lexicon.lookalikes:
        matchable = matchable.replace(lookalike, " ")
    terms = tuple(t for t in lexicon.terms if _term_in(t, matchable))

    keep = [True] * len(text)
    for start, end in entity_spans:
        for i in range(max(start, 0), min(end, len(text))):
            keep[i] = False
    rest = "".join(ch if k else " " for ch, k in zip(text, keep, strict=True))
    if _CJK.search(text):
        rest = _ASCII_RUN.sub("a", rest)
        content = sum(1 for ch in rest if ch.isalnum())
    else:  # English: a word says about as much as two Chinese characters
        content = 2 * len(_EN_WORD.findall(rest.lower()))

    question = bool(_QUESTION_MARK.search(text) or _QUESTION_WORDS.search(text)
                    or _FINAL_PARTICLE.search(text) or _EN_QUESTION.search(lowered))
    return Shape(question=question, card_terms=terms, content_chars=content)


@dataclass(frozen=True)
class GuardRules:
    """Which intents are dialogue acts, and when a message is too much of a question for one.

    - greetings ("您好") never carry a card matter: any card word, or a long question, is more;
    - closings (thanks, goodbye) often end with a real question ("谢谢，另外积分多久过期");
    - answers (是/不是/算了/a bare value) are what a flow asks for, so inside a flow a short or
      card-worded reply must stay one: only a question about a card matter, a long question,
      or a long card statement is taken away from them; a bare value (inform) says little
      besides its entity values ("改成15号", "尾号1234"), so a shorter card statement is enough;
    - chit-chat about a card matter is a card question.
    """

    greetings: frozenset[str] = frozenset({"greet"})
    closings: frozenset[str] = frozenset({"thanks", "goodbye"})
    answers: frozenset[str] = frozenset({"affirm", "deny", "cancel", "inform"})
    values: frozenset[str] = frozenset({"inform"})
    chat: frozenset[str] = frozenset({"chitchat", "bot_challenge"})
    long_question: int = 10
    long_statement: int = 12
    long_value_statement: int = 6
    guarded: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "guarded",
                           self.greetings | self.closings | self.answers | self.chat)

    def swallows(self, intent: str, shape: Shape) -> bool:
        """True when classifying this message as `intent` would swallow a question."""
        card = bool(shape.card_terms)
        long_question = shape.question and shape.content_chars >= self.long_question
        if intent in self.greetings:
            return card or long_question
        if intent in self.closings:
            return shape.question and (card or long_question)
        if intent in self.answers:
            statement = (self.long_value_statement if intent in self.values
                         else self.long_statement)
            return ((shape.question and (card or long_question))
                    or (card and shape.content_chars >= statement))
        if intent in self.chat:
            return card
        return False
