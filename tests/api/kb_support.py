"""Helpers of the KB console tests (tests/api/test_kb_*.py): staff headers, entry bodies,
generated spreadsheets. The `client` fixture comes from tests/api/conftest.py."""

from __future__ import annotations

import io
import time
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook

from api.core.config import get_settings

KB = "/api/v1/kb"
HEADER = ["条目ID", "分类", "标准问", "相似问", "答案", "按钮", "链接", "图片", "标签", "渠道",
          "生效日期", "失效日期", "状态", "英文答案", "英文标准问", "按钮英文", "链接英文"]


def staff(client: TestClient, role: str) -> dict[str, str]:
    """Bearer headers of the demo account of ``role`` (agent, ops, supervisor, admin)."""
    settings = get_settings()
    resp = client.post("/api/v1/auth/token", data={
        "username": getattr(settings, f"demo_{role}_user"),
        "password": getattr(settings, f"demo_{role}_password")})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def entry_body(tag: str, **over: Any) -> dict[str, Any]:
    """A valid new entry whose questions nobody else has (``tag`` makes them unique)."""
    body: dict[str, Any] = {
        "standard_question": f"{tag}卡片怎么办理",
        "similar_questions": [f"{tag}卡怎么申请", f"我想办{tag}卡", f"{tag}卡在哪里办",
                              f"申请{tag}卡的流程"],
        "answer": {"text": f"{tag}卡可以在手机银行 App 首页申请。",
                   "buttons": [{"title": "转人工", "payload": "/request_human"}],
                   "links": [{"title": "办理说明", "url": "https://example.com/card"}],
                   "image": None},
        "category": "测试分类",
        "tags": ["测试"],
    }
    body.update(over)
    return body


def create(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    resp = client.post(f"{KB}/entries", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def publish(client: TestClient, headers: dict[str, str], note: str | None = None
            ) -> dict[str, Any]:
    resp = client.post(f"{KB}/publish", json={"note": note}, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def wait_serving(client: TestClient, headers: dict[str, str], release: int,
                 timeout: float = 120.0) -> float:
    """Seconds until the retrieval service serves ``release`` (fails after ``timeout``)."""
    assert isinstance(release, int), release
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        status = client.get(f"{KB}/status", headers=headers).json()
        if status["serving_release"] == release:
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"release {release} not served after {timeout}s: {status}")


def row(entry_id: str, category: str, question: str, similar: list[str], answer: str,
        **over: str) -> list[str]:
    values = {"条目ID": entry_id, "分类": category, "标准问": question,
              "相似问": "\n".join(similar), "答案": answer, "按钮": "", "链接": "", "图片": "",
              "标签": "", "渠道": "", "生效日期": "", "失效日期": "", "状态": "",
              "英文答案": "", "英文标准问": "", "按钮英文": "", "链接英文": ""}
    values.update(over)
    return [values[h] for h in HEADER]


def generated_rows(n: int, prefix: str) -> list[list[str]]:
    """``n`` valid, mutually distinct rows (new entries: empty id)."""
    out = []
    for i in range(n):
        key = f"{prefix}{i:04d}"
        out.append(row("", "批量导入", f"编号{key}的业务怎么办理",
                       [f"编号{key}业务如何申请", f"我要办编号{key}业务", f"编号{key}业务在哪办",
                        f"编号{key}业务需要什么材料"],
                       f"编号{key}业务请在 App 中办理。", 标签="导入,批量", 渠道="web,微信"))
    return out


def xlsx_bytes(rows: list[list[str]], header: list[str] | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(header or HEADER)
    for r in rows:
        sheet.append(r)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
