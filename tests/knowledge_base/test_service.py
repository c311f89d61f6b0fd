"""KnowledgeService on a small fixture KB with the real e5 model: search, filters, decision,
related questions, background loading and rebuild on KB change."""

from __future__ import annotations

import shutil
import time
from datetime import date
from pathlib import Path

import pytest
import yaml
from kb_testing import FIXTURE_NLU, FIXTURE_SEED, make_settings

from knowledge_base.search.service import KBNotReady, KnowledgeService, UnknownEntry

TODAY = date(2026, 6, 1)  # outside the fixture's 2026-01-15..2026-02-28 campaign


def ids(result: dict) -> list[str]:
    return [h["entry_id"] for h in result["hits"]]


def test_paraphrase_finds_its_entry(kb_service: KnowledgeService) -> None:
    for query, expected in [("我的信用卡找不到了怎么办", "lost-001"),
                            ("补办的卡几天能到", "lost-002"),
                            ("账单日可以换吗", "bill-001"),
                            ("积分会过期吗", "points-001"),
                            ("刷卡几次能免年费", "fee-002")]:
        result = kb_service.search(query, today=TODAY)
        assert ids(result)[0] == expected, (query, result["hits"][:2])


def test_response_shape(kb_service: KnowledgeService) -> None:
    result = kb_service.search("信用卡丢了怎么办", top_k=2, today=TODAY)
    assert result["release"] == 1
    # team-data thresholds, those of the committed real-language models, those of the combined
    # model fitted on both at this build (the one that decides) and the English models'; a
    # Chinese query has no English probabilities (the English models do not apply to it)
    assert set(result["thresholds"]) == {"answer", "clarify", "real_answer", "real_clarify",
                                         "combined_answer", "combined_clarify",
                                         "en_answer", "en_clarify"}
    assert set(result["confidence"]) == {"answer", "scope", "real_answer", "real_scope",
                                         "combined_answer", "combined_scope"}
    assert result["query_normalized"] is None and result["other_issuer"] is None
    assert result["sub_questions"] == []
    hit = result["hits"][0]
    assert hit["entry_id"] == "lost-001" and hit["matched_question"] == "信用卡丢了怎么办"
    assert hit["category"] == "挂失" and 0.9 < hit["score"] <= 1.0
    assert hit["answer"]["buttons"][0] == {"title": "立即挂失", "payload": "/report_lost_card",
                                          "title_en": "Report card lost"}  # issue 19
    assert hit["answer"]["links"][0]["url"].startswith("https://")
    assert len(result["hits"]) == 2


def test_hits_are_one_per_entry(kb_service: KnowledgeService) -> None:
    result = kb_service.search("信用卡积分多久过期", top_k=20, today=TODAY)
    found = ids(result)
    assert len(found) == len(set(found))
    # 9 published entries, minus the app-only one and the expired campaign.
    assert len(found) == 7
    scores = [h["score"] for h in result["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_channel_filter(kb_service: KnowledgeService) -> None:
    web = kb_service.search("怎么在App里临时锁卡", channel="web", top_k=20, today=TODAY)
    app = kb_service.search("怎么在App里临时锁卡", channel="app", top_k=20, today=TODAY)
    assert "lost-003" not in ids(web)
    assert ids(app)[0] == "lost-003"
    assert kb_service.search(entry_id="lost-003", channel="web", today=TODAY)["hits"] == []


def test_validity_window_and_status(kb_service: KnowledgeService) -> None:
    query = "春节积分兑换活动有什么优惠"
    inside = kb_service.search(query, today=date(2026, 2, 1))
    after = kb_service.search(query, top_k=20, today=date(2026, 3, 1))
    assert ids(inside)[0] == "points-002"
    assert "points-002" not in ids(after)
    expired = kb_service.search(entry_id="points-002", today=date(2026, 3, 1))
    assert expired["hits"] == [] and expired["decision"] == "fallback"
    # Drafts are never searchable, not even by id.
    assert "points-003" not in ids(kb_service.search("积分可以兑换航空里程吗", top_k=20,
                                                     today=TODAY))
    with pytest.raises(UnknownEntry):
        kb_service.search(entry_id="points-003", today=TODAY)


def test_entry_id_lookup(kb_service: KnowledgeService) -> None:
    result = kb_service.search(entry_id="fee-001", today=TODAY)
    assert result["decision"] == "answer"
    assert ids(result) == ["fee-001"] and result["hits"][0]["score"] == 1.0
    with pytest.raises(UnknownEntry):
        kb_service.search(entry_id="nope-001", today=TODAY)


def test_decisions_answer_and_fallback(kb_service: KnowledgeService) -> None:
    assert kb_service.search("信用卡丢了怎么办", today=TODAY)["decision"] == "answer"
    assert kb_service.search("怎么修改账单日", today=TODAY)["decision"] == "answer"
    for off_topic in ("今天北京下雨吗", "给我讲个故事吧", "帮我订一张去上海的机票"):
        result = kb_service.search(off_topic, today=TODAY)
        assert result["decision"] == "fallback", (off_topic, result["confidence"])


def test_clarify_between_thresholds(kb_service: KnowledgeService) -> None:
    """With the answer threshold out of reach, an in-scope query clarifies, an off-topic one
    still falls back."""
    cal = kb_service.snapshot.artifacts.calibration  # type: ignore[union-attr]
    assert cal.combined is not None  # the shipped real dev set gives every build one
    saved = cal.combined.t_answer
    cal.combined.t_answer = 1.01
    try:
        assert kb_service.search("信用卡找不到了该怎么处理", today=TODAY)["decision"] == "clarify"
        assert kb_service.search("今天北京下雨吗", today=TODAY)["decision"] == "fallback"
    finally:
        cal.combined.t_answer = saved


def test_related_questions(kb_service: KnowledgeService) -> None:
    web = kb_service.search("信用卡丢了怎么办", today=TODAY)["hits"][0]["related"]
    app = kb_service.search("信用卡丢了怎么办", channel="app", today=TODAY)["hits"][0]["related"]
    web_ids = [r["entry_id"] for r in web]
    app_ids = [r["entry_id"] for r in app]
    assert len(web) == 3 and "lost-001" not in web_ids
    # lost-002 is already a button of lost-001's answer: not offered again. Same category
    # first; the app-only entry is offered only on the app.
    assert "lost-002" not in web_ids and "lost-002" not in app_ids
    assert "lost-003" not in web_ids and app_ids[0] == "lost-003"
    assert app[0]["question"] == "怎么在App里临时锁卡"
    # an entry whose buttons open no other entry keeps its nearest neighbour
    fee = kb_service.search("信用卡年费是多少", today=TODAY)["hits"][0]
    assert fee["entry_id"] == "fee-001" and fee["related"][0]["entry_id"] == "fee-002"


def test_calibration_report_on_leave_one_out(kb_service: KnowledgeService) -> None:
    cal = kb_service.snapshot.artifacts.calibration  # type: ignore[union-attr]
    report = cal.report
    assert report["in_scope_queries"] == 4 * 8 + 5  # similar questions of published entries
    assert report["out_of_scope_queries"] == 25
    assert report["hit@1"] >= 0.8 and report["hit@3"] >= 0.95
    # The two thresholds apply to different probabilities, so they need no particular order.
    assert 0.0 < cal.t_clarify < 1.0 and 0.0 < cal.t_answer < 1.0
    assert report["in_scope"]["answer_precision"] >= 0.8


def test_background_load_and_not_ready(tmp_path: Path, e5_model_dir: Path) -> None:
    service = KnowledgeService(make_settings(tmp_path), nlu_dir=FIXTURE_NLU)
    assert service.status()["state"] == "loading"
    with pytest.raises(KBNotReady):
        service.search("信用卡丢了怎么办")
    service.start_background()
    assert service.wait_ready(300)
    status = service.status()
    assert status == {"state": "up", "release": 1, "entries": 9, "index": "flat"}
    service.close()
    assert service.status()["state"] == "down"


def test_bad_seed_marks_the_service_down(tmp_path: Path, e5_model_dir: Path) -> None:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "bad.yml").write_text("entries:\n  - id: x-001\n", encoding="utf-8")
    service = KnowledgeService(make_settings(tmp_path, seed), nlu_dir=FIXTURE_NLU)
    service.start_background()
    assert not service.wait_ready(120)
    status = service.status()
    assert status["state"] == "down" and "bad.yml: entry #1 (x-001)" in status["error"]


def test_changing_an_entry_rebuilds_the_index(tmp_path: Path, e5_model_dir: Path) -> None:
    seed = tmp_path / "seed"
    shutil.copytree(FIXTURE_SEED, seed)
    service = KnowledgeService(make_settings(tmp_path, seed), nlu_dir=FIXTURE_NLU)
    first = service.reload()
    query = "芝麻开门请回答"
    # Teach the query to the entry it matches least today.
    target = service.search(query, top_k=20, today=TODAY)["hits"][-1]["entry_id"]
    path = seed / ("cards.yml" if target.startswith(("lost", "fee")) else "bills.yml")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    next(e for e in doc["entries"] if e["id"] == target)["similar"].append(query)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")

    second = service.reload()
    assert second.release == 2 and second.directory != first.directory
    assert first.directory.is_dir() and second.directory.is_dir()
    result = service.search(query, today=TODAY)
    assert result["release"] == 2 and result["hits"][0]["entry_id"] == target
    assert result["hits"][0]["matched_question"] == query
    # Unchanged content reuses the cached directory.
    assert service.reload().directory == second.directory
    service.close()


def test_a_kb_question_typed_as_worded_is_answered(kb_service: KnowledgeService) -> None:
    # With or without a courtesy/possessive opening or punctuation: answered, not clarified.
    for query in ("信用卡丢了怎么办", "我的信用卡丢了怎么办？", "请问，信用卡丢了怎么办"):
        result = kb_service.search(query)
        assert result["decision"] == "answer", (query, result["confidence"])
        assert result["hits"][0]["entry_id"] == "lost-001"


TOPICS = ["公务卡", "联名卡", "学生卡", "白金卡", "金卡", "普卡", "虚拟卡", "ETC卡", "车主卡",
          "航空卡", "商务卡", "女性卡", "游戏卡", "校园卡", "医护卡", "教师卡", "留学卡", "银联卡",
          "万事达卡", "运通卡", "JCB卡", "电子卡", "主题卡", "纪念卡"]


def topic_entry(i: int, topic: str) -> dict:
    return {"id": f"topic-{i:03d}", "category": "卡种", "question": f"{topic}怎么申请",
            "similar": [f"{topic}在哪里办", f"我想办一张{topic}", f"{topic}需要什么条件",
                        f"申请{topic}有什么要求"],
            "answer": {"text": f"{topic}可以在 App 申请。"}}


def test_a_small_publish_is_served_at_once_then_rebuilt_in_full(
        tmp_path: Path, e5_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a trained adapter, a publish of a few new questions swaps in immediately with the
    live adapter and calibration; the full build (retrained, recalibrated) follows."""
    import threading

    from knowledge_base.search import service as service_mod

    seed = tmp_path / "seed"
    seed.mkdir()
    doc = {"entries": [topic_entry(i, t) for i, t in enumerate(TOPICS)]}
    (seed / "topics.yml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    settings = make_settings(tmp_path, seed)
    service = KnowledgeService(settings, nlu_dir=FIXTURE_NLU)
    first = service.reload()
    assert first.artifacts.adapter.trained
    assert service_mod.quick_snapshot(settings, first, FIXTURE_NLU) is None  # nothing new

    doc["entries"].append({"id": "star-001", "category": "卡种", "question": "星辰卡有什么权益",
                           "similar": ["星辰卡福利", "星辰卡能享受什么优惠", "办星辰卡有啥好处",
                                       "星辰卡的权益有哪些"],
                           "answer": {"text": "星辰卡享受机场贵宾厅。"}})
    (seed / "topics.yml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")

    full_build_may_start = threading.Event()
    original = service_mod.load_snapshot

    def held_back(*args, **kwargs):
        assert full_build_may_start.wait(60)
        return original(*args, **kwargs)

    monkeypatch.setattr(service_mod, "load_snapshot", held_back)
    worker = threading.Thread(target=service.reload)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while (service.snapshot is None or service.snapshot.release != 2) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        quick = service.snapshot
        assert quick is not None and quick.release == 2
        assert quick.artifacts.calibration is first.artifacts.calibration
        assert quick.artifacts.adapter is first.artifacts.adapter
        assert ids(service.search("星辰卡都有哪些福利", today=TODAY))[0] == "star-001"
    finally:
        full_build_may_start.set()
        worker.join(120)
    full = service.snapshot
    assert full is not None and full.release == 2 and full is not quick
    assert full.artifacts.calibration is not first.artifacts.calibration
    assert full.directory != first.directory and (full.directory / "adapter.npy").is_file()
    assert ids(service.search("星辰卡都有哪些福利", today=TODAY))[0] == "star-001"

    # A bulk change is not served with the old adapter: it waits for the full build.
    doc["entries"].append(topic_entry(99, "月亮卡"))
    (seed / "topics.yml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert service_mod.quick_snapshot(settings, full, FIXTURE_NLU) is not None
    monkeypatch.setattr(service_mod, "QUICK_MAX_NEW", 0)
    monkeypatch.setattr(service_mod, "QUICK_MAX_NEW_SHARE", 0.0)
    assert service_mod.quick_snapshot(settings, full, FIXTURE_NLU) is None
    service.close()


def test_a_superseded_reload_is_abandoned_and_the_live_snapshot_kept(
        kb_service: KnowledgeService) -> None:
    """A rollback right after a publish must not wait behind the publish's full rebuild: the
    reload whose release is already stale stops, the serving snapshot stays, and the next
    reload (not stale) loads normally."""
    from knowledge_base.search.service import Cancelled

    live = kb_service.snapshot
    assert live is not None
    with pytest.raises(Cancelled):
        kb_service.reload(stale=lambda: True)
    assert kb_service.snapshot is live and kb_service.status()["state"] == "up"
    assert not kb_service.closed
    again = kb_service.reload(stale=lambda: False)
    assert again.release == live.release and kb_service.snapshot is again


def test_a_misspelt_card_term_is_corrected_before_search(kb_service: KnowledgeService) -> None:
    typed = kb_service.search("怎么修改帐单日", today=TODAY)
    assert typed["corrected_query"] == "怎么修改账单日"
    assert ids(typed)[0] == "bill-001"
    assert typed["decision"] == "answer"  # the corrected text is the standard question
    assert kb_service.search("怎么修改账单日", today=TODAY)["corrected_query"] is None


def test_query_understanding_with_a_non_default_bank(kb_service: KnowledgeService,
                                                      tmp_path: Path) -> None:
    """BANK_NAMES of another bank: its names are stripped, other issuers noted, several
    questions split, and the search response carries the extra fields."""
    import dataclasses

    settings = dataclasses.replace(make_settings(tmp_path),
                                   bank_names="中国建设银行,建设银行,建行,CCB,龙卡")
    ccb = KnowledgeService(settings)
    snap = kb_service.snapshot
    assert snap is not None
    own = ccb.search_snapshot(snap, "请问建行信用卡丢了怎么办", today=TODAY)
    assert own["query_normalized"] == "信用卡丢了怎么办"
    assert own["other_issuer"] is None and own["decision"] == "answer"
    assert ids(own)[0] == "lost-001"

    other = ccb.search_snapshot(snap, "招行的信用卡丢了怎么办", today=TODAY)
    assert other["other_issuer"]["name"] == "招商银行"
    assert "本行信用卡" in other["other_issuer"]["note"] and ids(other)[0] == "lost-001"
    # the demo bank's default would have taken 建行 for another issuer
    demo = kb_service.search("请问建行信用卡丢了怎么办", today=TODAY)
    assert demo["other_issuer"]["name"] == "建设银行"

    both = ccb.search_snapshot(snap, "信用卡丢了怎么办？另外账单日可以换吗？", today=TODAY)
    assert both["query_normalized"] == "信用卡丢了怎么办？" and ids(both)[0] == "lost-001"
    assert both["sub_questions"] == [{"text": "账单日可以换吗？", "entry_id": "bill-001",
                                      "question": "怎么修改账单日"}]

    # A second question without a topic of its own is searched with the first one's topic, and
    # never offers the entry that already answers the first question.
    # Alone, "能便宜点吗" is a fallback; with the topic its best hit is the main entry (fee-001).
    elliptic = ccb.search_snapshot(snap, "信用卡年费是多少？另外能便宜点吗", today=TODAY)
    assert ids(elliptic)[0] == "fee-001"
    assert ccb.search_snapshot(snap, "能便宜点吗", today=TODAY)["decision"] == "fallback"
    assert elliptic["sub_questions"] == [{"text": "能便宜点吗", "entry_id": "fee-002",
                                          "question": "怎样免掉次年年费"}]


def test_english_models_decide_english_queries_only(kb_service: KnowledgeService,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The English calibration (english_cal.py) is consulted for an English query and never
    for a Chinese one: with its thresholds made permissive, only the English query changes."""
    import dataclasses

    english = kb_service.english_calibration
    assert english is not None  # the committed english_calibration.json
    chinese_before = kb_service.search("今天北京下雨吗", today=TODAY)
    permissive = dataclasses.replace(english, models=dataclasses.replace(
        english.models, t_answer=0.0, t_clarify=0.0))
    monkeypatch.setattr(kb_service, "_english", permissive)
    result = kb_service.search("What is the weather in Beijing today", today=TODAY)
    assert result["decision"] == "answer"
    assert {"en_answer", "en_scope"} <= set(result["confidence"])
    chinese = kb_service.search("今天北京下雨吗", today=TODAY)
    assert chinese["decision"] == chinese_before["decision"] == "fallback"
    assert "en_answer" not in chinese["confidence"]
