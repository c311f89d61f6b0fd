"""The gateway CPU bench's arithmetic (bench/gateway_cpu.py): per-message CPU, the gateway's own
cost, the CPU-bound ratio, and the folding of py-spy's collapsed stacks into components."""

from __future__ import annotations

import pytest

from bench.gateway_cpu import (
    fold,
    inclusive,
    own_cost,
    own_functions,
    per_message_ms,
    ratio_bound,
    samples,
    session_texts,
)


def test_per_message_ms_and_the_gateways_own_cost() -> None:
    before = {"api": 10.0, "rasa": 20.0}
    after = {"api": 10.5, "rasa": 21.0}
    rasa_alone = per_message_ms(before, after, 10)
    assert rasa_alone == {"api": 50.0, "rasa": 100.0}
    gateway = per_message_ms(before, {"api": 10.8, "rasa": 21.0}, 10)
    assert own_cost(rasa_alone, gateway) == {"api": 30.0, "rasa": 0.0}
    # (50 + 100) / (80 + 100)
    assert ratio_bound(rasa_alone, gateway) == pytest.approx(0.833, abs=1e-3)
    with pytest.raises(ValueError):
        per_message_ms(before, after, 0)


RAW = [
    # the gateway's commit: SQLAlchemy's driver call is the innermost known frame
    "run (threading.py:1);_begin (/w/api/conversation/gateway.py:200);"
    "commit (/v/site-packages/sqlalchemy/orm/session.py:10);"
    "do_commit (/v/site-packages/sqlalchemy/engine/default.py:5) 7",
    # ORM bookkeeping of the same step
    "run (threading.py:1);_begin (/w/api/conversation/gateway.py:200);"
    "flush (/v/site-packages/sqlalchemy/orm/session.py:20) 5",
    # response validation: pydantic under fastapi, called from our route
    "handle (/v/site-packages/fastapi/routing.py:1);chat (/w/api/routes/chat.py:90);"
    "model_validate (/v/site-packages/pydantic/main.py:3) 4",
    # a frame nobody claims
    "<module> (<string>:1) 2",
    "not a sample line",
]


def test_fold_charges_the_innermost_known_component() -> None:
    folded = fold(RAW)
    assert folded == {"sql driver (execute, commit)": 7, "sqlalchemy": 5, "pydantic": 4,
                      "other": 2}


def test_own_functions_are_inclusive_and_skip_libraries() -> None:
    top = dict(own_functions(RAW))
    assert top == {"_begin (/w/api/conversation/gateway.py": 12,
                   "chat (/w/api/routes/chat.py": 4}


def test_inclusive_counts_stacks_through_a_frame() -> None:
    assert inclusive(RAW, "_begin (") == 12
    assert inclusive(RAW, "chat (") == 4
    assert samples(RAW) == 18


def test_sessions_are_the_same_for_both_targets_and_follow_the_mix() -> None:
    assert session_texts(3) == session_texts(3)
    texts = [t for i in range(1, 400) for t in session_texts(i)]
    # the weights of bench load's mix: the FAQ about the annual fee (3) beats the handoff (0.5)
    assert texts.count("信用卡年费怎么收") > 3 * texts.count("转人工") > 0
