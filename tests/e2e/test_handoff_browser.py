"""The agent console and the cardholder's chat page side by side through a handoff, in headless
Chromium (Debian's /usr/bin/chromium, driven by Playwright; no browser is downloaded).

Screenshots land in $HANDOFF_SCREENSHOTS (default /tmp) for a human look.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SHOTS = Path(os.environ.get("HANDOFF_SCREENSHOTS", "/tmp"))
AGENT_USER = os.environ.get("DEMO_AGENT_USER", "agent")
AGENT_PASSWORD = os.environ.get("DEMO_AGENT_PASSWORD", "agent-dev-pass")
TIMEOUT_MS = 60_000


def test_console_and_chat_side_by_side(stack, browser) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    user = "demo-gold-001"
    chat = browser.new_context(viewport={"width": 480, "height": 860}).new_page()
    console = browser.new_context(viewport={"width": 1360, "height": 860}).new_page()
    errors: list[str] = []
    for page in (chat, console):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.set_default_timeout(TIMEOUT_MS)

    # the cardholder asks for a human and waits with a visible position
    chat.goto(f"{stack.base_url}/?user_id={user}")
    chat.click("#request-human")  # the header button (typing 转人工 works the same)
    expect(chat.locator("#status-line")).to_contain_text("排队中")
    expect(chat.locator("#status-line")).to_contain_text(re.compile(r"第 \d+ 位"))
    expect(chat.locator("#cancel-queue")).to_be_visible()
    expect(chat.locator("#request-human")).to_be_hidden()
    chat.fill("#input", "我的账单金额好像不对")
    chat.press("#input", "Enter")

    # the agent logs in, goes online, sees the queue entry and accepts
    console.goto(f"{stack.base_url}/agent")
    console.fill("#login-user", AGENT_USER)
    console.fill("#login-pass", AGENT_PASSWORD)
    console.click("#login-submit")
    expect(console.locator("#desk-view")).to_be_visible()
    console.click("#status-online")
    expect(console.locator("#status-online")).to_have_class(re.compile("on"))
    entry = console.locator("#list-queue .item", has_text=user)
    expect(entry).to_contain_text("金卡")
    expect(entry).to_contain_text("我的账单金额好像不对")
    console.screenshot(path=str(SHOTS / "handoff_agent_queue.png"))
    entry.locator("button.accept").click()
    expect(console.locator("#conv-state")).to_have_text("人工服务中")
    transcript = console.locator("#transcript")
    expect(transcript).to_contain_text("我的账单金额好像不对")
    expect(transcript.locator(".line.bot").first).to_be_visible()
    expect(console.locator("#profile")).to_contain_text("**** **** ****")

    # the cardholder sees who is serving them, live
    expect(chat.locator("#status-line")).to_contain_text(re.compile(r"人工客服 \d+ 号为您服务"))
    expect(chat.locator("#messages")).to_contain_text("号为您服务")
    expect(chat.locator("#cancel-queue")).to_be_hidden()

    # cardholder -> agent, live
    chat.fill("#input", "上个月有一笔 299 元的消费我不认识")
    chat.press("#input", "Enter")
    expect(transcript).to_contain_text("299 元的消费我不认识")

    # KB suggestion inserts into the reply box; canned reply too; then the agent answers
    suggestion = console.locator("#suggestions .suggestion").first
    expect(suggestion).to_be_visible()
    suggestion.click()
    expect(console.locator("#reply-text")).not_to_have_value("")
    console.fill("#reply-text", "")
    console.locator("#canned button", has_text="稍等查询").click()
    expect(console.locator("#reply-text")).to_have_value(re.compile("稍等"))
    console.fill("#reply-text", "您好，这笔是境外商户的预授权，我帮您查一下。")
    console.press("#reply-text", "Enter")
    expect(transcript.locator(".line.agent")).to_contain_text("境外商户的预授权")

    agent_bubble = chat.locator(".msg.agent", has_text="境外商户的预授权")
    expect(agent_bubble).to_be_visible()
    expect(agent_bubble).to_contain_text(re.compile(r"人工客服 \d+ 号"))
    chat.screenshot(path=str(SHOTS / "handoff_chat_agent.png"))
    console.screenshot(path=str(SHOTS / "handoff_agent_console.png"))

    # resolve -> survey in the chat -> back to the bot
    console.once("dialog", lambda dialog: dialog.accept())
    console.click("#resolve-btn")
    expect(console.locator("#conv-state")).to_have_text("待评价")
    survey = chat.locator(".msg", has_text="请为人工客服").last
    expect(survey).to_be_visible()
    survey.locator("button", has_text="5").click()
    skip = chat.locator(".msg button", has_text="不用了").last
    expect(skip).to_be_visible()
    skip.click()
    expect(chat.locator("#messages")).to_contain_text("感谢您的评价")
    expect(chat.locator("#status-line")).not_to_contain_text("人工客服")

    bot_lines = chat.locator(".msg.bot")
    before = bot_lines.count()
    chat.fill("#input", "信用卡丢了怎么办")
    chat.press("#input", "Enter")
    expect(bot_lines.nth(before)).to_be_visible()
    expect(chat.locator("#typing")).to_be_hidden()
    # the KB answer (挂失…) or, if the calibration prefers, a clarification offering it
    answer = "\n".join(bot_lines.all_inner_texts()[before:])
    assert "挂失" in answer or "信用卡丢了怎么办" in answer, answer
    chat.screenshot(path=str(SHOTS / "handoff_chat_back_to_bot.png"))
    expect(console.locator("#conv-state")).to_have_text("机器人服务中")
    assert errors == []
