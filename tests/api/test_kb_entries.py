"""KB console API: CRUD and validation, drafts vs live, publish numbering, rollback, optimistic
locking, audit log, roles, history and previews."""

from __future__ import annotations

import pytest
from kb_support import KB, create, entry_body, publish, staff

from api.core.security import create_access_token
from api.models import StaffUser


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    # these tests look at releases, not at the retrieval swap: publish without waiting for it
    monkeypatch.setenv("KB_PUBLISH_WAIT_SECONDS", "0")


def entries(client, headers, **params):
    resp = client.get(f"{KB}/entries", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_create_is_a_draft_listed_and_searchable(client) -> None:
    ops = staff(client, "ops")
    before = entries(client, ops)
    created = create(client, ops, entry_body("星河"))
    assert created["id"].startswith("kb-") and created["status"] == "draft"
    assert created["pending_action"] == "create" and created["revision"] == 1
    assert created["is_live"] is False and created["has_draft"] is True
    assert created["answer"]["buttons"] == [{"title": "转人工", "payload": "/request_human",
                                             "title_en": None}]

    got = client.get(f"{KB}/entries/{created['id']}", headers=ops)
    assert got.status_code == 200 and got.headers["ETag"] == '"1"'
    assert got.json()["standard_question"] == "星河卡片怎么办理"

    found = entries(client, ops, query="星河卡")
    assert [i["id"] for i in found["items"]] == [created["id"]]
    assert entries(client, ops, query="我想办星河")["total"] == 1  # matches similar questions
    drafts = entries(client, ops, status="draft")
    assert created["id"] in {i["id"] for i in drafts["items"]}
    assert entries(client, ops, category="测试分类", tag="测试")["total"] == 1
    assert entries(client, ops, category="测试分类", channel="wechat")["total"] == 1
    after = entries(client, ops)
    assert after["total"] == before["total"] + 1
    assert after["items"][0]["id"] == created["id"]  # pending drafts are listed first
    # a draft is not live: the live release did not move
    assert after["live_release"] == before["live_release"] and after["pending_drafts"] == 1
    # seed entries are there and published
    repay = entries(client, ops, query="repay-001")["items"]
    assert repay and repay[0]["status"] == "published"


BAD_ENTRIES = [
    ({"similar_questions": ["只有一个"]}, "invalid_entry", "相似问至少需要 4 条"),
    ({"standard_question": "   "}, "invalid_entry", "标准问不能为空"),
    ({"answer": {"text": "好", "links": [{"title": "说明", "url": "ftp://x"}]}},
     "invalid_entry", "网址"),
    ({"answer": {"text": "好", "buttons": [{"title": "坏按钮", "payload": "request_human"}]}},
     "invalid_entry", "按钮动作"),
    ({"valid_from": "2026-05-01", "valid_to": "2026-04-01"}, "invalid_entry",
     "生效日期晚于失效日期"),
    ({"channels": ["web", "fax"]}, "invalid_entry", "渠道只能是"),
    ({"channels": []}, "invalid_entry", "渠道至少需要 1 个"),
    ({"id": "Bad Id"}, "invalid_entry", "条目ID"),
    ({"standard_question": "信用卡怎么还款"}, "entry_conflict", "已属于条目 repay-001"),
    ({"answer": {"text": "见", "buttons": [
        {"title": "看看", "payload": '/faq{"kb_entry_id":"nope-001"}'}]}},
     "entry_conflict", "不存在的条目 nope-001"),
]


def test_bad_entries_get_a_clear_422_and_change_nothing(client) -> None:
    ops = staff(client, "ops")
    before = entries(client, ops)["total"]
    for change, code, zh in BAD_ENTRIES:
        resp = client.post(f"{KB}/entries", json=entry_body("校验", **change), headers=ops)
        assert resp.status_code == 422, (change, resp.text)
        detail = resp.json()["detail"]
        assert detail["code"] == code and zh in detail["message"], (change, detail)
        assert detail["message_en"]
    # the same rules hold for edits
    seed = client.get(f"{KB}/entries/bill-002", headers=ops).json()
    resp = client.patch(f"{KB}/entries/bill-002", headers=ops, json={
        "revision": seed["revision"], "similar_questions": ["太少"]})
    assert resp.status_code == 422 and "相似问至少需要 4 条" in resp.json()["detail"]["message"]
    resp = client.patch(f"{KB}/entries/bill-002", headers=ops, json={
        "revision": seed["revision"], "standard_question": "信用卡怎么还款"})
    assert resp.status_code == 422 and "repay-001" in resp.json()["detail"]["message"]
    resp = client.patch(f"{KB}/entries/bill-002", headers=ops, json={"revision": 0})
    assert resp.status_code == 422 and resp.json()["detail"]["code"] == "no_changes"
    assert client.get(f"{KB}/entries/bill-002", headers=ops).json() == seed
    assert client.patch(f"{KB}/entries/nope-001", headers=ops,
                        json={"revision": 0, "tags": ["x"]}).status_code == 404
    # nothing was stored, nothing was logged
    assert entries(client, ops)["total"] == before
    assert entries(client, ops)["pending_drafts"] == 0
    assert client.get(f"{KB}/audit", headers=ops).json()["total"] == 0


def test_missing_fields_and_taken_id(client) -> None:
    ops = staff(client, "ops")
    body = entry_body("缺字段")
    del body["standard_question"]
    resp = client.post(f"{KB}/entries", json=body, headers=ops)
    assert resp.status_code == 422 and "standard_question" in resp.json()["detail"]["message_en"]
    resp = client.post(f"{KB}/entries", json=entry_body("占用", id="repay-001"), headers=ops)
    assert resp.status_code == 409 and resp.json()["detail"]["code"] == "entry_exists"
    resp = client.post(f"{KB}/entries", content=b"{not json", headers={
        **ops, "content-type": "application/json"})
    assert resp.status_code == 422 and resp.json()["detail"]["code"] == "invalid_json"


def test_publish_numbers_releases_and_drafts_go_live(client) -> None:
    ops, sup = staff(client, "ops"), staff(client, "supervisor")
    live = entries(client, ops)["live_release"]
    first = create(client, ops, entry_body("银河"))
    resp = client.post(f"{KB}/publish", json={}, headers=ops)
    assert resp.status_code == 403  # ops edit, only supervisors publish

    out = publish(client, sup, "上线银河卡")
    assert out["release"] == live + 1 and out["created"] == [first["id"]]
    got = client.get(f"{KB}/entries/{first['id']}", headers=ops).json()
    assert got["status"] == "published" and got["is_live"] and not got["has_draft"]
    assert got["live_since_release"] == live + 1

    second = create(client, ops, entry_body("极光"))
    seed = client.get(f"{KB}/entries/repay-002", headers=ops).json()
    edit = client.patch(f"{KB}/entries/repay-002", headers=ops, json={
        "revision": seed["revision"], "similar_questions": [*seed["similar_questions"],
                                                            "还款截止是哪天呀"]})
    assert edit.status_code == 200 and edit.json()["pending_action"] == "update"
    assert edit.json()["live"]["similar_questions"] == seed["similar_questions"]
    out2 = publish(client, sup)
    assert out2["release"] == live + 2
    assert out2["created"] == [second["id"]] and out2["updated"] == ["repay-002"]

    nothing = client.post(f"{KB}/publish", json={}, headers=sup)
    assert nothing.status_code == 409 and nothing.json()["detail"]["code"] == "nothing_to_publish"

    releases = client.get(f"{KB}/releases", headers=ops).json()
    assert [r["number"] for r in releases["items"]][:3] == [live + 2, live + 1, live]
    assert releases["items"][0]["live"] and releases["items"][0]["created_by"] == "supervisor"
    assert releases["items"][1]["note"] == "上线银河卡"
    detail = client.get(f"{KB}/releases/{live + 2}", headers=ops).json()
    assert [a["entry_id"] for a in detail["added"]] == [second["id"]]
    assert detail["changed"][0]["entry_id"] == "repay-002"
    assert detail["changed"][0]["changes"] == [
        {"field": "similar_questions", "added": ["还款截止是哪天呀"], "removed": []}]
    assert client.get(f"{KB}/releases/999", headers=ops).status_code == 404


def test_rollback_is_a_new_release_with_the_old_content(client) -> None:
    ops, sup = staff(client, "ops"), staff(client, "supervisor")
    base = entries(client, ops)["live_release"]
    created = create(client, ops, entry_body("流星"))
    added = publish(client, sup)["release"]

    assert client.post(f"{KB}/releases/{base}/rollback", headers=ops).status_code == 403
    resp = client.post(f"{KB}/releases/{base}/rollback", json={"note": "撤回流星"}, headers=sup)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["release"] == added + 1 and body["rolled_back_to"] == base
    assert body["changed"] == [created["id"]]
    assert client.get(f"{KB}/entries/{created['id']}", headers=ops).status_code == 404
    rel = client.get(f"{KB}/releases", headers=ops).json()["items"][0]
    assert rel["number"] == added + 1 and rel["source"] == "rollback" and rel["live"]

    again = client.post(f"{KB}/releases/{base}/rollback", headers=sup)
    assert again.status_code == 409 and again.json()["detail"]["code"] == "already_live"
    assert client.post(f"{KB}/releases/999/rollback", headers=sup).status_code == 404
    # a rollback can itself be undone: back to the release with the entry
    redo = client.post(f"{KB}/releases/{added}/rollback", headers=sup).json()
    assert redo["release"] == added + 2
    assert client.get(f"{KB}/entries/{created['id']}", headers=ops).json()["status"] == "published"


def test_two_editors_never_silently_overwrite_each_other(client) -> None:
    ops, sup = staff(client, "ops"), staff(client, "supervisor")
    loaded_by_ops = client.get(f"{KB}/entries/bill-001", headers=ops).json()
    loaded_by_sup = client.get(f"{KB}/entries/bill-001", headers=sup).json()
    assert loaded_by_ops["revision"] == loaded_by_sup["revision"] == 0

    first = client.patch(f"{KB}/entries/bill-001", headers=ops, json={
        "revision": loaded_by_ops["revision"], "answer": "运营改过的账单答案。"})
    assert first.status_code == 200 and first.json()["revision"] == 1
    second = client.patch(f"{KB}/entries/bill-001", headers=sup, json={
        "revision": loaded_by_sup["revision"], "answer": "主管改的答案。"})
    assert second.status_code == 409, second.text
    detail = second.json()["detail"]
    assert detail["code"] == "edit_conflict" and "ops" in detail["message"]
    assert detail["current_revision"] == 1
    now = client.get(f"{KB}/entries/bill-001", headers=sup).json()
    assert now["answer"]["text"] == "运营改过的账单答案。" and now["revision"] == 1

    # If-Match carries the revision too; a stale one is refused the same way
    ok = client.patch(f"{KB}/entries/bill-001", headers={**sup, "If-Match": '"1"'},
                      json={"answer": "主管在最新版本上改。"})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    stale = client.patch(f"{KB}/entries/bill-001", headers={**ops, "If-Match": '"1"'},
                         json={"answer": "过期的修改"})
    assert stale.status_code == 409
    missing = client.patch(f"{KB}/entries/bill-001", headers=ops, json={"answer": "没带版本"})
    assert missing.status_code == 428 and missing.json()["detail"]["code"] == "revision_required"
    # publishing does not reset the revision: an editor holding revision 1 is still stale
    publish(client, sup)
    late = client.patch(f"{KB}/entries/bill-001", headers=ops, json={
        "revision": 1, "answer": "发布后的过期修改"})
    assert late.status_code == 409
    assert client.get(f"{KB}/entries/bill-001", headers=ops).json()["answer"]["text"] == \
        "主管在最新版本上改。"


def test_audit_log_records_who_did_what(client) -> None:
    ops, sup = staff(client, "ops"), staff(client, "supervisor")
    created = create(client, ops, entry_body("彗星"))
    client.patch(f"{KB}/entries/{created['id']}", headers=ops,
                 json={"revision": 1, "tags": ["测试", "新"]})
    release = publish(client, sup)["release"]
    log = client.get(f"{KB}/audit", params={"entry_id": created["id"]}, headers=ops).json()
    actions = [(a["action"], a["actor"]) for a in log["items"]]
    assert actions == [("publish", "supervisor"), ("update", "ops"), ("create", "ops")]
    update = log["items"][1]
    assert update["details"]["changes"] == [{"field": "tags", "added": ["新"], "removed": []}]
    assert update["revision"] == 2 and update["at"]
    assert log["items"][0]["release"] == release
    everything = client.get(f"{KB}/audit", params={"action": "publish"}, headers=ops).json()
    assert any(a["entry_id"] is None and a["release"] == release for a in everything["items"])
    mine = client.get(f"{KB}/audit", params={"actor": "supervisor"}, headers=ops).json()
    assert mine["total"] == 2


def test_roles_and_tokens(client) -> None:
    agent, ops = staff(client, "agent"), staff(client, "ops")
    admin = staff(client, "admin")
    for method, path in [("GET", "/entries"), ("POST", "/entries"), ("POST", "/publish"),
                         ("POST", "/releases/1/rollback"), ("GET", "/audit"),
                         ("POST", "/hit-test"), ("GET", "/inbox"), ("GET", "/export")]:
        resp = client.request(method, f"{KB}{path}", json=entry_body("角色"))
        assert resp.status_code == 401, (method, path, resp.text)
        assert resp.json()["detail"]["code"] == "not_authenticated"
        resp = client.request(method, f"{KB}{path}", json=entry_body("角色"), headers=agent)
        assert resp.status_code == 403, (method, path, resp.text)
    forged = create_access_token(StaffUser(id=999, username="ops", role="ops"))
    forged = forged[:-4] + ("AAAA" if not forged.endswith("AAAA") else "BBBB")
    resp = client.get(f"{KB}/entries", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status_code == 401
    assert client.get(f"{KB}/entries", headers=ops).status_code == 200
    assert client.post(f"{KB}/publish", headers=ops).status_code == 403
    create(client, admin, entry_body("管理员"))
    assert client.post(f"{KB}/publish", headers=admin).status_code == 200


def test_archive_discard_and_history(client) -> None:
    ops, sup = staff(client, "ops"), staff(client, "supervisor")
    # a never-published draft: deleting it removes it
    draft = create(client, ops, entry_body("晨星"))
    gone = client.delete(f"{KB}/entries/{draft['id']}", params={"revision": 1}, headers=ops)
    assert gone.status_code == 204
    assert client.get(f"{KB}/entries/{draft['id']}", headers=ops).status_code == 404

    # archive a live entry: a pending draft until published
    seed = client.get(f"{KB}/entries/fee-001", headers=ops).json()
    archived = client.delete(f"{KB}/entries/fee-001", params={"revision": seed["revision"]},
                             headers=ops)
    assert archived.status_code == 200 and archived.json()["pending_action"] == "archive"
    discarded = client.post(f"{KB}/entries/fee-001/discard",
                            json={"revision": archived.json()["revision"]}, headers=ops)
    assert discarded.status_code == 200 and discarded.json()["status"] == "published"
    again = client.delete(f"{KB}/entries/fee-001",
                          params={"revision": discarded.json()["revision"]}, headers=ops)
    publish(client, sup)
    now = client.get(f"{KB}/entries/fee-001", headers=ops).json()
    assert now["status"] == "archived" and now["active"] is False
    assert entries(client, ops, status="archived")["items"][0]["id"] == "fee-001"

    edit = client.patch(f"{KB}/entries/fee-001", headers=ops, json={
        "revision": again.json()["revision"], "active": True,
        "standard_question": seed["standard_question"] + "？"})
    assert edit.json()["pending_action"] == "restore"
    history = client.get(f"{KB}/entries/fee-001/history", headers=ops).json()
    assert history["draft"]["changes"][0]["field"] == "standard_question"
    assert {"field": "status", "before": "archived", "after": "published"} in \
        history["draft"]["changes"]
    newest, oldest = history["versions"][0], history["versions"][-1]
    assert newest["release_to"] is None and newest["created_by"] == "supervisor"
    assert {"field": "status", "before": "published", "after": "archived"} in newest["changes"]
    assert oldest["source"] == "seed" and oldest["changes"] == []
    assert client.get(f"{KB}/entries/nope-404/history", headers=ops).status_code == 404


def test_preview_web_and_wechat(client) -> None:
    ops = staff(client, "ops")
    long_text = "。".join(f"第{i}条说明文字用于测试微信拆分" for i in range(200)) + "。"
    resp = client.post(f"{KB}/preview", headers=ops, json={
        "answer": {"text": long_text, "buttons": [
            {"title": "立即还款", "payload": "/repayment"},
            {"title": "查看自动还款", "payload": '/faq{"kb_entry_id":"autopay-001"}'}],
            "links": [{"title": "还款指南", "url": "https://example.com/repay"}],
            "image": "https://example.com/a.png"},
        "channels": ["web", "app"]})
    assert resp.status_code == 200, resp.text
    p = resp.json()
    assert [m["type"] for m in p["web"]] == ["buttons", "link", "image"]
    assert p["web"][0]["buttons"][1]["payload"] == '/faq{"kb_entry_id":"autopay-001"}'
    texts = [m["text"] for m in p["wechat"] if m["kind"] == "text"]
    assert len(texts) >= 2 and all(len(t.encode()) <= 2048 for t in texts)
    joined = "\n".join(texts)
    assert "回复1 立即还款" in joined and "回复2 查看自动还款" in joined
    assert '<a href="https://example.com/repay">还款指南</a>' in joined
    assert [o["payload"] for o in p["wechat_options"]] == [
        "/repayment", '/faq{"kb_entry_id":"autopay-001"}']
    assert any("拆成" in n for n in p["notes"]) and any("微信" in n for n in p["notes"])
    bad = client.post(f"{KB}/preview", headers=ops, json={"answer": {"text": " "}})
    assert bad.status_code == 422 and "答案正文不能为空" in bad.json()["detail"]["message"]


def test_kb_api_is_documented_in_openapi(client) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method in [("/api/v1/kb/entries", "post"), ("/api/v1/kb/entries", "get"),
                         ("/api/v1/kb/publish", "post"),
                         ("/api/v1/kb/releases/{number}/rollback", "post"),
                         ("/api/v1/kb/hit-test", "post"), ("/api/v1/kb/import", "post"),
                         ("/api/v1/kb/inbox", "get"), ("/api/v1/kb/audit", "get")]:
        assert method in paths[path], (path, method)
    create_op = paths["/api/v1/kb/entries"]["post"]
    assert "201" in create_op["responses"]
    assert "EntryCreate" in str(create_op["requestBody"])
    assert client.get("/ops").status_code == 200 and "知识库运营台" in client.get("/ops").text
