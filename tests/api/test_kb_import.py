"""Excel / CSV import and export: per-row validation report, all-or-nothing, round trip."""

from __future__ import annotations

import csv
import io

import pytest
from kb_support import (
    HEADER,
    KB,
    XLSX,
    generated_rows,
    publish,
    row,
    staff,
    wait_serving,
    xlsx_bytes,
)
from openpyxl import load_workbook


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    # these tests look at releases, not at the retrieval swap: publish without waiting for it
    monkeypatch.setenv("KB_PUBLISH_WAIT_SECONDS", "0")


def upload(client, headers, content: bytes, name: str, mime: str, dry_run: bool = False):
    return client.post(f"{KB}/import", params={"dry_run": dry_run} if dry_run else None,
                       files={"file": (name, content, mime)}, headers=headers)


def kb_state(client, headers) -> tuple[int, int, int]:
    listing = client.get(f"{KB}/entries", headers=headers).json()
    audit = client.get(f"{KB}/audit", headers=headers).json()
    return listing["total"], listing["pending_drafts"], audit["total"]


def test_1000_rows_with_3_bad_rows_are_refused_then_the_fixed_file_imports_and_publishes(
        client) -> None:
    ops = staff(client, "ops")
    rows = generated_rows(1000, "A")
    rows[10][HEADER.index("答案")] = ""                       # spreadsheet row 12: no answer
    rows[500][HEADER.index("相似问")] += "\n编号A0020业务在哪办"  # row 502: question of row 22
    rows[998][HEADER.index("相似问")] += "\n信用卡怎么还款"      # row 1000: belongs to repay-001
    before = kb_state(client, ops)

    resp = upload(client, ops, xlsx_bytes(rows), "bulk.xlsx", XLSX)
    assert resp.status_code == 422, resp.text[:500]
    detail = resp.json()["detail"]
    assert detail["code"] == "import_invalid"
    assert "3 行有问题" in detail["message"] and "12、502、1000" in detail["message"]
    report = detail["report"]
    assert report["ok"] is False and report["rows_total"] == 1000
    assert report["bad_rows"] == [12, 502, 1000] and report["valid_rows"] == 997
    by_row = {e["row"]: e for e in report["errors"]}
    assert by_row[12]["field"] == "answer" and "缺少答案" in by_row[12]["message"]
    assert by_row[502]["field"] == "similar_questions" and "第 22 行" in by_row[502]["message"]
    assert "repay-001" in by_row[1000]["message"] and by_row[1000]["column"] == "相似问"
    assert by_row[1000]["entry_id"] is None  # a new row: no id was given
    assert kb_state(client, ops) == before  # nothing changed

    # fixed, the same file passes (dry run reports, imports nothing) and then imports
    rows[10][HEADER.index("答案")] = "补上的答案。"
    rows[500] = generated_rows(1000, "A")[500]
    rows[998] = generated_rows(1000, "A")[998]
    check = upload(client, ops, xlsx_bytes(rows), "bulk.xlsx", XLSX, dry_run=True)
    assert check.status_code == 200 and len(check.json()["created"]) == 1000
    assert kb_state(client, ops) == before
    done = upload(client, ops, xlsx_bytes(rows), "bulk.xlsx", XLSX)
    assert done.status_code == 201, done.text[:500]
    assert len(done.json()["created"]) == 1000
    total, drafts, audits = kb_state(client, ops)
    assert (total, drafts, audits) == (before[0] + 1000, 1000, before[2] + 1)
    imported = client.get(f"{KB}/entries", params={"query": "编号A0999"}, headers=ops).json()
    item = imported["items"][0]
    assert item["status"] == "draft" and item["channels"] == ["web", "wechat"]
    assert item["tags"] == ["导入", "批量"]

    # the clean file publishes: one release with all 1,000, and retrieval serves it
    sup = staff(client, "supervisor")
    release = publish(client, sup, "批量导入 1000 条")["release"]
    assert client.get(f"{KB}/status", headers=ops).json()["pending_drafts"] == 0
    listing = client.get(f"{KB}/entries", params={"query": "编号A0", "status": "published",
                                                  "page_size": 1}, headers=ops).json()
    assert listing["total"] == 1000
    # ~5,000 new questions are encoded on publish: minutes on 2 shared cores, not seconds
    wait_serving(client, ops, release, timeout=900)
    hit = client.post(f"{KB}/hit-test", headers=ops,
                      json={"query": "编号A0777业务要带什么材料", "top_k": 3}).json()
    assert hit["live"]["release"] == release
    assert hit["live"]["hits"][0]["question"] == "编号A0777的业务怎么办理"


def test_clean_xlsx_imports_as_drafts_and_publishes(client) -> None:
    ops, sup = staff(client, "ops"), staff(client, "supervisor")
    rows = generated_rows(30, "B")
    rows.append(row("cardx-001", "新卡", "星辰联名卡有什么权益",
                    ["星辰卡的权益有哪些", "星辰联名卡福利", "星辰卡能享受什么优惠",
                     "办星辰卡有啥好处"], "星辰联名卡享受机场贵宾厅和 5 倍积分。",
                    按钮="查看权益|/faq{\"kb_entry_id\":\"perks-001\"}\n转人工|/request_human",
                    链接="权益说明|https://example.com/xc", 生效日期="2026-01-01"))
    resp = upload(client, ops, xlsx_bytes(rows), "clean.xlsx", XLSX)
    assert resp.status_code == 201, resp.text[:800]
    assert "cardx-001" in resp.json()["created"] and len(resp.json()["created"]) == 31
    entry = client.get(f"{KB}/entries/cardx-001", headers=ops).json()
    assert entry["answer"]["buttons"][0] == {"title": "查看权益",
                                            "payload": '/faq{"kb_entry_id":"perks-001"}',
                                            "title_en": None}
    assert entry["answer"]["links"] == [{"title": "权益说明", "url": "https://example.com/xc",
                                         "title_en": None}]
    assert entry["valid_from"] == "2026-01-01"

    release = publish(client, sup, "批量导入")["release"]
    wait_serving(client, ops, release)
    hit = client.post(f"{KB}/hit-test", headers=ops,
                      json={"query": "星辰联名卡都有哪些福利", "top_k": 3}).json()
    assert hit["live"]["release"] == release
    assert hit["live"]["hits"][0]["entry_id"] == "cardx-001"

    # export → re-import of the same content changes nothing
    exported = client.get(f"{KB}/export", params={"format": "xlsx", "version": "live"},
                          headers=ops)
    assert exported.status_code == 200 and exported.headers["content-type"] == XLSX
    sheet = load_workbook(io.BytesIO(exported.content)).worksheets[0]
    assert [c.value for c in sheet[1]] == HEADER
    again = upload(client, ops, exported.content, "export.xlsx", XLSX)
    assert again.status_code == 201 and again.json()["created"] == []
    assert again.json()["updated"] == [] and again.json()["unchanged"] >= 364
    assert client.get(f"{KB}/status", headers=ops).json()["pending_drafts"] == 0


def _csv(rows: list[list[str]], encoding: str = "utf-8-sig") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def test_csv_import_updates_and_refuses(client) -> None:
    ops = staff(client, "ops")
    exported = client.get(f"{KB}/export", params={"format": "csv"}, headers=ops)
    assert exported.status_code == 200 and exported.content.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert parsed[0] == HEADER and len(parsed) > 300
    repay = next(r for r in parsed if r[0] == "repay-001")
    repay[HEADER.index("答案")] = "CSV 里改过的还款答案。"

    new = row("", "测试", "CSV 新增的问题怎么问", ["CSV 新问题一", "CSV 新问题二", "CSV 新问题三",
                                              "CSV 新问题四"], "CSV 新答案。", 渠道="微信")
    resp = upload(client, ops, _csv([repay, new], "gb18030"), "edit.csv", "text/csv")
    assert resp.status_code == 201, resp.text[:500]
    assert resp.json()["updated"] == ["repay-001"] and len(resp.json()["created"]) == 1
    got = client.get(f"{KB}/entries/repay-001", headers=ops).json()
    assert got["answer"]["text"] == "CSV 里改过的还款答案。" and got["pending_action"] == "update"
    assert got["answer"]["buttons"][1]["payload"] == '/faq{"kb_entry_id":"autopay-001"}'

    bad = [row("bill-001", "x", "重复ID一", ["甲一", "甲二", "甲三", "甲四"], "答"),
           row("bill-001", "x", "重复ID二", ["乙一", "乙二", "乙三", "乙四"], "答"),
           row("", "x", "渠道不对", ["丙一", "丙二", "丙三", "丙四"], "答", 渠道="传真"),
           row("", "x", "日期不对", ["丁一", "丁二", "丁三", "丁四"], "答", 生效日期="明天"),
           row("", "x", "按钮不对", ["戊一", "戊二", "戊三", "戊四"], "答", 按钮="没有竖线")]
    before = client.get(f"{KB}/entries/bill-001", headers=ops).json()
    resp = upload(client, ops, _csv(bad), "bad.csv", "text/csv")
    assert resp.status_code == 422
    report = resp.json()["detail"]["report"]
    assert report["bad_rows"] == [3, 4, 5, 6]
    messages = {e["row"]: e["message"] for e in report["errors"]}
    assert "与第 2 行重复" in messages[3] and "传真" in messages[4]
    assert "生效日期" in messages[5] and "标题|/intent" in messages[6]
    assert client.get(f"{KB}/entries/bill-001", headers=ops).json() == before

    for content, name, code in [(b"PK\x03\x04garbage", "x.xlsx", "invalid_file"),
                                (b"a,b", "x.txt", "unsupported_file"),
                                (",".join(["foo", "bar"]).encode(), "x.csv", "import_invalid")]:
        resp = upload(client, ops, content, name, "application/octet-stream")
        assert resp.status_code == 422 and resp.json()["detail"]["code"] == code, resp.text
