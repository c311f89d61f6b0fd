"""Seed validation, seed import as release 1, and per-release entry versions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session

import migrations
from knowledge_base.content import entries as kb_entries
from knowledge_base.content import store
from knowledge_base.content.entries import SeedError
from knowledge_base.db import get_engine

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_SEED = Path(__file__).parent / "fixtures" / "seed"


def entry(ident: str, question: str, **over) -> dict:
    base = {
        "id": ident, "category": "测试", "question": question,
        "similar": [f"{question}？{i}号说法" for i in range(4)],
        "answer": {"text": "答案。", "buttons": [], "links": [], "image": None},
        "tags": [], "channels": ["web", "app", "wechat"], "valid_from": None, "valid_to": None,
        "status": "published",
    }
    base.update(over)
    return base


def write(seed: Path, name: str, entries: list[dict]) -> None:
    seed.mkdir(parents=True, exist_ok=True)
    (seed / name).write_text(yaml.safe_dump({"entries": entries}, allow_unicode=True),
                             encoding="utf-8")


@pytest.fixture()
def session(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/kb.db"
    migrations.upgrade("service", url)
    with Session(get_engine(url)) as s:
        yield s


def test_product_seed_is_valid() -> None:
    """The shipped seed passes every check (ids, >= 4 similar questions, buttons, links)."""
    entries = kb_entries.load_seed(ROOT / "knowledge_base" / "seed")
    assert len(entries) >= 100
    assert len({e.id for e in entries}) == len(entries)
    assert all(len(e.similar) >= kb_entries.MIN_SIMILAR for e in entries)


def test_fixture_seed_loads_with_defaults() -> None:
    entries = {e.id: e for e in kb_entries.load_seed(FIXTURE_SEED)}
    assert entries["lost-002"].answer.buttons == [] and entries["lost-002"].answer.image is None
    assert entries["lost-002"].channels == ["web", "app", "wechat"]
    assert str(entries["points-002"].valid_to) == "2026-02-28"
    assert entries["lost-001"].answer.buttons[1].target_entry() == "lost-002"


def test_every_problem_is_reported_with_file_and_entry(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    write(seed, "a.yml", [
        entry("lost-001", "卡丢了"),
        entry("lost-002", "卡丢了怎么补", similar=["a1", "a2", "a3"]),
        entry("lost-003", "挂失", answer={"text": "好", "buttons": [
            {"title": "x", "payload": "report lost"}]}),
        entry("lost-004", "补卡", answer={"text": "好", "buttons": [
            {"title": "x", "payload": '/faq{"kb_entry_id":"nope-001"}'}]}),
        entry("lost-005", "锁卡", valid_from="2026-05-01", valid_to="2026-04-01"),
        entry("lost-006", "换卡", channels=["sms"]),
        {k: v for k, v in entry("lost-007", "年费").items() if k != "answer"},
    ])
    write(seed, "b.yml", [entry("lost-001", "另一个问题"), entry("fee-001", "卡丢了！")])
    (seed / "c.yml").write_text("entries: [unclosed", encoding="utf-8")
    with pytest.raises(SeedError) as info:
        kb_entries.load_seed(seed)
    text = "\n".join(info.value.errors)
    assert "a.yml: entry #2 (lost-002): similar" in text and "at least 4" in text
    assert "a.yml: entry #3 (lost-003): answer.buttons.0.payload" in text
    assert "unknown entry nope-001" in text
    assert "a.yml: entry #5 (lost-005)" in text and "after valid_to" in text
    assert "a.yml: entry #6 (lost-006): channels.0" in text
    assert "a.yml: entry #7 (lost-007): answer: Field required" in text
    assert "b.yml: entry #1 (lost-001): duplicate id lost-001 (also in a.yml: entry #1" in text
    assert "b.yml: entry #2 (fee-001): question '卡丢了！' duplicates one of entry lost-001" in text
    assert "c.yml: cannot parse YAML" in text


def test_entry_rejects_repeated_paraphrase_and_bad_id() -> None:
    with pytest.raises(ValueError, match="repeat"):
        kb_entries.Entry.model_validate(entry("x-001", "问题", similar=["问题！", "b", "c", "d"]))
    with pytest.raises(ValueError, match="id"):
        kb_entries.Entry.model_validate(entry("Bad Id", "问题"))


def test_seed_import_is_release_one_and_idempotent(session: Session) -> None:
    release = store.ensure_seed(session, FIXTURE_SEED)
    assert (release.number, release.source, release.entry_count) == (1, "seed", 10)
    again = store.ensure_seed(session, FIXTURE_SEED)
    assert again.number == 1 and store.release_count(session) == 1
    loaded = store.entries_at(session, 1)
    assert loaded == sorted(kb_entries.load_seed(FIXTURE_SEED), key=lambda e: e.id)


def test_changed_seed_becomes_a_new_release_with_versions(session: Session,
                                                          tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    shutil.copytree(FIXTURE_SEED, seed)
    store.ensure_seed(session, seed)
    doc = yaml.safe_load((seed / "cards.yml").read_text(encoding="utf-8"))
    doc["entries"][0]["answer"]["text"] = "新的答案。"
    doc["entries"] = [e for e in doc["entries"] if e["id"] != "fee-002"]
    (seed / "cards.yml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")

    release = store.ensure_seed(session, seed)
    assert release.number == 2
    old = {e.id: e for e in store.entries_at(session, 1)}
    new = {e.id: e for e in store.entries_at(session, 2)}
    assert old["lost-001"].answer.text != "新的答案。"
    assert new["lost-001"].answer.text == "新的答案。"
    assert "fee-002" in old and "fee-002" not in new
    # Unchanged entries share one version row across releases.
    rows = session.query(store.KBEntryVersion).filter_by(entry_id="bill-001").all()
    assert len(rows) == 1 and rows[0].release_to is None
    assert len(session.query(store.KBEntryVersion).filter_by(entry_id="lost-001").all()) == 2


def test_seed_is_ignored_after_an_ops_publish(session: Session, tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    shutil.copytree(FIXTURE_SEED, seed)
    store.ensure_seed(session, seed)
    entries = store.entries_at(session, 1)
    store.publish(session, entries[1:], source="publish", created_by="ops")
    session.commit()
    (seed / "bills.yml").unlink()
    assert store.ensure_seed(session, seed).number == 2
    assert store.release_count(session) == 2


def test_publish_same_content_is_a_no_op(session: Session) -> None:
    store.ensure_seed(session, FIXTURE_SEED)
    same = store.publish(session, store.entries_at(session, 1), source="publish")
    assert same.number == 1
