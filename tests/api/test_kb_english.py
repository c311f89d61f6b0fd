"""The optional English answer of a KB entry in the ops API (issue 19): edit, clear, the
"missing English" filter, export and import columns."""

from __future__ import annotations

import io

import openpyxl
import pytest
from kb_support import KB, XLSX, create, entry_body, staff


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("KB_PUBLISH_WAIT_SECONDS", "0")


def listing(client, headers, **params):
    resp = client.get(f"{KB}/entries", params={"page_size": 500, **params}, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_answer_en_is_edited_cleared_and_filtered(client) -> None:
    ops = staff(client, "ops")
    created = create(client, ops, entry_body("银河", answer_en="Apply in the app."))
    assert created["answer_en"] == "Apply in the app."
    missing = {i["id"] for i in listing(client, ops, missing_english="true")["items"]}
    assert created["id"] not in missing
    assert "lost-001" not in missing  # the seed has English for it
    assert "perks-001" in missing  # perks have no English yet
    summary = next(i for i in listing(client, ops)["items"] if i["id"] == created["id"])
    assert summary["has_english"] is True

    resp = client.patch(f"{KB}/entries/{created['id']}", headers=ops,
                        json={"revision": created["revision"], "answer_en": None})
    assert resp.status_code == 200, resp.text
    assert resp.json()["answer_en"] is None
    missing = {i["id"] for i in listing(client, ops, missing_english="true")["items"]}
    assert created["id"] in missing

    too_long = client.patch(f"{KB}/entries/{created['id']}", headers=ops,
                            json={"revision": resp.json()["revision"], "answer_en": "x" * 4001})
    assert too_long.status_code == 422


def test_export_has_the_english_column_and_import_reads_it(client) -> None:
    ops = staff(client, "ops")
    resp = client.get(f"{KB}/export", params={"format": "xlsx"}, headers=ops)
    assert resp.status_code == 200, resp.text
    sheet = openpyxl.load_workbook(io.BytesIO(resp.content)).active
    header = [c.value for c in sheet[1]]
    assert "英文答案" in header
    col = header.index("英文答案")
    ids = {row[0].value: row[col].value for row in sheet.iter_rows(min_row=2)}
    assert ids["lost-001"] and ids["lost-001"].startswith("Don't worry")
    assert not ids.get("perks-001")


def test_question_en_is_edited_cleared_exported_and_imported(client) -> None:
    """The English title (issue 19, for English clarify buttons) round-trips through the ops
    API and the spreadsheet columns."""
    ops = staff(client, "ops")
    created = create(client, ops, entry_body("星河", question_en="  Galaxy card perks?  "))
    assert created["question_en"] == "Galaxy card perks?"  # stripped like answer_en
    resp = client.patch(f"{KB}/entries/{created['id']}", headers=ops,
                        json={"revision": created["revision"], "question_en": "Galaxy perks"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["question_en"] == "Galaxy perks"
    assert resp.json()["answer_en"] is None  # an untouched field stays as it was
    too_long = client.patch(f"{KB}/entries/{created['id']}", headers=ops,
                            json={"revision": resp.json()["revision"], "question_en": "x" * 201})
    assert too_long.status_code == 422
    found = listing(client, ops, query="Galaxy perks")["items"]
    assert [i["id"] for i in found] == [created["id"]]  # the console search reads it too

    exported = client.get(f"{KB}/export", params={"format": "xlsx"}, headers=ops)
    assert exported.status_code == 200, exported.text
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content)).active
    header = [c.value for c in sheet[1]]
    col = header.index("英文标准问")
    titles = {r[0].value: r[col].value for r in sheet.iter_rows(min_row=2)}
    assert titles[created["id"]] == "Galaxy perks"
    assert titles["lost-001"] == "My credit card is lost; what should I do?"

    # Re-import with the title changed: the draft carries the new English title.
    for r in sheet.iter_rows(min_row=2):
        if r[0].value == created["id"]:
            r[col].value = "Galaxy card benefits"
    buffer = io.BytesIO()
    sheet.parent.save(buffer)
    imported = client.post(f"{KB}/import", headers=ops,
                           files={"file": ("kb.xlsx", buffer.getvalue(), XLSX)})
    assert imported.status_code == 201, imported.text
    assert imported.json()["updated"] == [created["id"]]
    entry = client.get(f"{KB}/entries/{created['id']}", headers=ops).json()
    assert entry["question_en"] == "Galaxy card benefits"

    resp = client.patch(f"{KB}/entries/{created['id']}", headers=ops,
                        json={"revision": entry["revision"], "question_en": ""})
    assert resp.status_code == 200, resp.text
    assert resp.json()["question_en"] is None


def _import(client, headers, rows, header):
    from kb_support import XLSX, xlsx_bytes
    return client.post(f"{KB}/import", files={"file": ("en.xlsx", xlsx_bytes(rows, header), XLSX)},
                       headers=headers)


def _entry(client, headers, entry_id):
    resp = client.get(f"{KB}/entries/{entry_id}", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_import_without_the_english_column_keeps_answer_en_and_an_empty_cell_clears_it(
        client) -> None:
    from kb_support import HEADER, row
    ops = staff(client, "ops")
    created = create(client, ops, entry_body("星河", answer_en="Apply in the app.",
                                             question_en="Galaxy card application"))
    body = entry_body("星河")
    values = row(created["id"], body["category"], body["standard_question"],
                 body["similar_questions"], "星河卡可以在 App 或网点申请。")

    # an older file: no English columns at all -> the English texts stay
    keep = [i for i, h in enumerate(HEADER) if h not in ("英文答案", "英文标准问")]
    resp = _import(client, ops, [[values[i] for i in keep]], [HEADER[i] for i in keep])
    assert resp.status_code == 201, resp.text[:500]
    entry = _entry(client, ops, created["id"])
    assert entry["answer"]["text"] == "星河卡可以在 App 或网点申请。"
    assert entry["answer_en"] == "Apply in the app."
    assert entry["question_en"] == "Galaxy card application"

    # the column present with an empty cell -> cleared on purpose
    resp = _import(client, ops, [values], HEADER)
    assert resp.status_code == 201, resp.text[:500]
    assert _entry(client, ops, created["id"])["answer_en"] is None

    # and a filled cell sets it
    values[HEADER.index("英文答案")] = "Apply in the app or at a branch."
    resp = _import(client, ops, [values], HEADER)
    assert resp.status_code == 201, resp.text[:500]
    assert _entry(client, ops, created["id"])["answer_en"] == "Apply in the app or at a branch."


def test_button_and_link_english_titles_are_edited_exported_and_kept_by_old_files(
        client) -> None:
    """Issue 19: `title_en` on answer buttons and links through the console API and the
    按钮英文 / 链接英文 columns; a file without those columns keeps them."""
    from kb_support import HEADER, row
    ops = staff(client, "ops")
    answer = {"text": "银河卡可以在 App 申请。", "image": None,
              "buttons": [{"title": "转人工", "payload": "/request_human",
                           "title_en": " Talk to a person "}],
              "links": [{"title": "办理说明", "url": "https://example.com/card",
                         "title_en": "How to apply"}]}
    created = create(client, ops, entry_body("银河", answer=answer))
    assert created["answer"]["buttons"] == [{"title": "转人工", "payload": "/request_human",
                                             "title_en": "Talk to a person"}]
    assert created["answer"]["links"][0]["title_en"] == "How to apply"
    too_long = client.patch(f"{KB}/entries/{created['id']}", headers=ops, json={
        "revision": created["revision"],
        "answer": {**answer, "buttons": [{**answer["buttons"][0], "title_en": "x" * 41}]}})
    assert too_long.status_code == 422

    exported = client.get(f"{KB}/export", params={"format": "xlsx"}, headers=ops)
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content)).active
    header = [c.value for c in sheet[1]]
    rows = {r[0].value: r for r in sheet.iter_rows(min_row=2)}
    assert rows[created["id"]][header.index("按钮英文")].value == \
        "Talk to a person|/request_human"
    assert rows[created["id"]][header.index("链接英文")].value == \
        "How to apply|https://example.com/card"
    assert rows["lost-001"][header.index("链接英文")].value == \
        "Lost card protection explained|https://card.example-bank.cn/help/lost"

    # An older file (no English title columns): the answer changes, the English titles stay.
    body = entry_body("银河")
    values = row(created["id"], body["category"], body["standard_question"],
                 body["similar_questions"], "银河卡请在 App 申请。",
                 按钮="转人工|/request_human", 链接="办理说明|https://example.com/card")
    old = [i for i, h in enumerate(HEADER) if h not in ("按钮英文", "链接英文")]
    resp = _import(client, ops, [[values[i] for i in old]], [HEADER[i] for i in old])
    assert resp.status_code == 201, resp.text[:500]
    entry = _entry(client, ops, created["id"])
    assert entry["answer"]["text"] == "银河卡请在 App 申请。"
    assert entry["answer"]["buttons"][0]["title_en"] == "Talk to a person"
    assert entry["answer"]["links"][0]["title_en"] == "How to apply"

    # The columns present but empty: cleared on purpose.
    resp = _import(client, ops, [values], HEADER)
    assert resp.status_code == 201, resp.text[:500]
    entry = _entry(client, ops, created["id"])
    assert entry["answer"]["buttons"][0]["title_en"] is None
    assert entry["answer"]["links"][0]["title_en"] is None
