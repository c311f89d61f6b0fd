"""The dashboard as an xlsx workbook: one sheet per block (openpyxl)."""

from __future__ import annotations

import io
from typing import Any

SUMMARY_LABELS = {
    "conversations": "会话数", "bot_turns": "机器人回复轮次", "resolution_rate": "机器人解决率",
    "clarify_rate": "澄清率（按轮次）", "fallback_rate": "兜底率（按轮次）",
    "handoff_rate": "转人工率",
    "handoffs": "转人工次数", "queue_wait_p50_seconds": "排队等待P50（秒）",
    "queue_wait_p90_seconds": "排队等待P90（秒）", "helped_within_5min_rate": "5分钟内接入率",
    "abandonment_rate": "放弃排队率", "agent_handle_seconds": "平均处理时长（秒）",
    "csat": "满意度CSAT（1-5）", "csat_responses": "CSAT回复数", "nps": "NPS",
    "nps_responses": "NPS回复数",
}


def _sheet(wb: Any, title: str, header: list[str], rows: list[list[Any]]) -> None:
    ws = wb.create_sheet(title)
    ws.append(header)
    for row in rows:
        ws.append(row)


def workbook(summary: dict[str, Any], series: dict[str, Any],
             breakdowns: dict[str, Any]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "概览"
    ws.append(["指标", "值"])
    ws.append(["日期范围", f"{summary['from']} ~ {summary['to']}"])
    ws.append(["渠道", summary.get("channel") or "全部"])
    ws.append(["客户等级", {"vip": "VIP（白金卡）", "other": "非VIP"}.get(summary.get("tier") or "",
                                                                  "全部")])
    for key, label in SUMMARY_LABELS.items():
        ws.append([label, summary.get(key)])
    _sheet(wb, "每日会话", ["日期", "渠道", "会话数"],
           [[r["day"], r["channel"], r["conversations"]] for r in series["conversations"]])
    _sheet(wb, "每日指标", ["日期", "会话数", "解决率", "转人工率", "澄清率", "兜底率"],
           [[r["day"], r["conversations"], r["resolution_rate"], r["handoff_rate"],
             r["clarify_rate"], r["fallback_rate"]] for r in series["rates"]])
    _sheet(wb, "NPS趋势", ["日期", "NPS", "回复数"],
           [[r["day"], r["nps"], r["responses"]] for r in series["nps"]])
    _sheet(wb, "转人工原因", ["原因", "次数"],
           [[r["reason"], r["count"]] for r in breakdowns["handoff_reasons"]])
    _sheet(wb, "CSAT分布", ["分数", "人数"],
           [[r["score"], r["count"]] for r in breakdowns["csat_distribution"]])
    _sheet(wb, "坐席", ["工号", "姓名", "解决数", "平均处理时长（秒）", "CSAT", "CSAT回复数",
                      "质检数", "有问题", "质检得分"],
           [[a["agent_no"], a["display_name"], a["resolved"], a["handle_seconds"], a["csat"],
             a["csat_responses"], a.get("inspected", 0), a.get("flagged", 0),
             a.get("quality_score")] for a in breakdowns["agents"]])
    _sheet(wb, "热门知识条目", ["条目ID", "回答次数", "没帮助次数", "没帮助率"],
           [[e["entry_id"], e["answers"], e["thumbs_down"], e["thumbs_down_rate"]]
            for e in breakdowns["top_entries"]])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
