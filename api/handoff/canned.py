"""Canned replies of the agent console (one click puts them in the reply box)."""

from __future__ import annotations

CANNED_REPLIES: tuple[dict[str, str], ...] = (
    {"title": "问候", "text": "您好，我是信用卡中心人工客服，很高兴为您服务，请问有什么可以帮您？"},
    {"title": "稍等查询", "text": "好的，请您稍等，我这边为您查询一下。"},
    {"title": "核实身份",
     "text": "为保障您的账户安全，请提供卡号后四位及身份证号后六位以便核实身份。"},
    {"title": "盗刷处理",
     "text": "请您立即在App“卡片管理”中临时锁卡，我这边同步为您提交争议交易调查，"
             "调查结果会在 7 个工作日内短信通知您。"},
    {"title": "已提交", "text": "您的申请已提交，处理结果会以短信形式通知您，请留意。"},
    {"title": "致歉", "text": "非常抱歉给您带来不便，我们会尽快为您处理。"},
    {"title": "还有其他问题", "text": "请问还有其他可以帮您的吗？"},
    {"title": "结束语", "text": "感谢您的来电咨询，祝您生活愉快，再见！"},
)
