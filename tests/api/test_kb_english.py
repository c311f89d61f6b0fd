"""The optional English answer of a KB entry in the ops API (issue 19): edit, clear, the
"missing English" filter, export and import columns."""

from __future__ import annotations

import io

import openpyxl
import pytest
from kb_support import KB, create, entry_body, staff


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
    assert "lost-007" in missing
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
    assert not ids.get("lost-007")


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
    created = create(client, ops, entry_body("星河", answer_en="Apply in the app."))
    body = entry_body("星河")
    values = row(created["id"], body["category"], body["standard_question"],
                 body["similar_questions"], "星河卡可以在 App 或网点申请。")

    # an older file: no 英文答案 column at all -> the English text stays
    without = HEADER[:-1]
    assert "英文答案" not in without
    resp = _import(client, ops, [values[:-1]], without)
    assert resp.status_code == 201, resp.text[:500]
    entry = _entry(client, ops, created["id"])
    assert entry["answer"]["text"] == "星河卡可以在 App 或网点申请。"
    assert entry["answer_en"] == "Apply in the app."

    # the column present with an empty cell -> cleared on purpose
    resp = _import(client, ops, [values], HEADER)
    assert resp.status_code == 201, resp.text[:500]
    assert _entry(client, ops, created["id"])["answer_en"] is None

    # and a filled cell sets it
    values[HEADER.index("英文答案")] = "Apply in the app or at a branch."
    resp = _import(client, ops, [values], HEADER)
    assert resp.status_code == 201, resp.text[:500]
    assert _entry(client, ops, created["id"])["answer_en"] == "Apply in the app or at a branch."
