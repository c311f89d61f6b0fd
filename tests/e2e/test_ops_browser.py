"""The ops console in headless Chromium (Debian's /usr/bin/chromium driven by Playwright; no
browser is downloaded): ops logs in, creates an entry with a preview, hit-tests it (draft
answers, live does not), a supervisor publishes, and the chat widget answers with it.

Screenshots land in $OPS_SCREENSHOTS (default /tmp) for a human look.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

SHOTS = Path(os.environ.get("OPS_SCREENSHOTS", "/tmp"))
TIMEOUT_MS = 60_000
MARKER = "极光白金卡机场接送每年 6 次"


def creds(role: str) -> tuple[str, str]:
    return (os.environ.get(f"DEMO_{role.upper()}_USER", role),
            os.environ.get(f"DEMO_{role.upper()}_PASSWORD", f"{role}-dev-pass"))


def login(page: Any, base: str, role: str) -> None:
    from playwright.sync_api import expect

    user, password = creds(role)
    page.goto(f"{base}/ops")
    page.fill("#login-user", user)
    page.fill("#login-pass", password)
    page.click("#login-submit")
    expect(page.locator("#app-view")).to_be_visible()
    expect(page.locator("#entry-rows tr").first).to_be_visible()


def test_login_create_hit_test_publish_and_chat(stack, browser) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    base = stack.base_url
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1440, "height": 1000},
                                  accept_downloads=True)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(TIMEOUT_MS)

    # ops: log in, no publish button for this role
    login(page, base, "ops")
    expect(page.locator("#me")).to_contain_text("运营")
    expect(page.locator("#publish-open")).to_be_hidden()
    # the console fills data-live once /status answered: wait for it (the shared stack may have
    # published releases in earlier modules)
    expect(page.locator("#release-info")).to_have_attribute("data-live", re.compile(r"^\d+$"))
    live_before = int(page.locator("#release-info").get_attribute("data-live") or 0)

    # create an entry; the previews render for web and WeChat
    page.click("#new-entry")
    page.fill("#f-category", "权益")
    page.fill("#f-question", "极光白金卡有机场接送服务吗")
    page.fill("#f-similar", "\n".join(["极光白金卡能免费接送机吗", "极光卡机场接送怎么预约",
                                       "极光白金卡送机服务", "极光卡有没有接机权益"]))
    page.fill("#f-answer", f"有的，{MARKER}，请提前 24 小时预约。")
    page.click("#add-button")
    page.locator("#buttons-box .pair-a").last.fill("预约接送")
    page.locator("#buttons-box .pair-b").last.fill("/request_human")
    expect(page.locator("#preview-web")).to_contain_text(MARKER)
    expect(page.locator("#preview-web .chip")).to_have_text("预约接送")
    expect(page.locator("#preview-wechat")).to_contain_text("回复1 预约接送")
    page.click("#save-btn")
    expect(page.locator("#flash")).to_contain_text("已保存为草稿")
    expect(page.locator("#editor-status")).to_have_text("新建待发布")
    entry_id = (page.locator("#f-id").input_value())
    assert entry_id.startswith("kb-")
    page.fill("#q", "极光白金卡")
    expect(page.locator("#entry-rows tr")).to_have_count(1)
    expect(page.locator("#entry-rows")).to_contain_text("新建待发布")
    page.screenshot(path=str(SHOTS / "ops_editor.png"), full_page=True)

    # hit test: the draft would answer with it, the live release does not know it
    page.click("#tab-hittest")
    page.fill("#ht-query", "极光白金卡可以预约机场接送吗")
    page.click("#ht-run")
    expect(page.locator("#ht-draft .hit-row").first).to_contain_text(entry_id)
    expect(page.locator("#ht-draft .decision")).to_contain_text("直接回答")
    expect(page.locator("#ht-live")).not_to_contain_text(entry_id)
    page.screenshot(path=str(SHOTS / "ops_hit_test.png"), full_page=True)

    # supervisor: publish the drafts
    page.click("#logout")
    login(page, base, "supervisor")
    expect(page.locator("#publish-open")).to_be_enabled()
    page.click("#publish-open")
    expect(page.locator("#publish-summary")).to_contain_text("条草稿")
    page.fill("#publish-note", "新增极光白金卡接送机")
    page.click("#publish-confirm")
    expect(page.locator("#flash")).to_contain_text(f"已发布版本 #{live_before + 1}")
    expect(page.locator("#release-info")).to_contain_text("机器人已生效")
    page.screenshot(path=str(SHOTS / "ops_published.png"), full_page=True)

    # the cardholder's chat widget answers with the new entry
    chat = browser.new_context(viewport={"width": 480, "height": 860}).new_page()
    chat.on("pageerror", lambda exc: errors.append(str(exc)))
    chat.goto(f"{base}/?user_id=ops-browser-u1")
    chat.fill("#input", "极光白金卡的机场接送服务怎么约")
    chat.press("#input", "Enter")
    expect(chat.locator("#messages")).to_contain_text(MARKER)
    chat.screenshot(path=str(SHOTS / "ops_chat_answer.png"))

    # releases tab lists it as live; the audit log has who did what
    page.click("#tab-releases")
    expect(page.locator("#release-rows tr").first).to_contain_text(f"#{live_before + 1} 线上")
    page.locator("#release-rows tr").first.locator("button", has_text="查看变更").click()
    expect(page.locator("#release-detail")).to_contain_text(entry_id)
    page.click("#tab-audit")
    page.fill("#audit-entry", entry_id)
    page.click("#audit-refresh")
    expect(page.locator("#audit-rows tr")).to_have_count(2)
    expect(page.locator("#audit-rows tr").first).to_contain_text("supervisor")
    expect(page.locator("#audit-rows tr").last).to_contain_text("新建")
    page.screenshot(path=str(SHOTS / "ops_audit.png"), full_page=True)
    page.click("#tab-stats")
    expect(page.locator("#stats-rows")).to_contain_text(entry_id)
    page.screenshot(path=str(SHOTS / "ops_stats.png"), full_page=True)
    page.click("#tab-inbox")
    expect(page.locator("#inbox-meta")).to_contain_text("种问法")
    page.screenshot(path=str(SHOTS / "ops_inbox.png"), full_page=True)
    assert not errors, errors

    # leave the shared stack's KB as it was (a rollback from the console)
    page.click("#tab-releases")
    page.locator(f'#release-rows button[data-release="{live_before}"]').click()
    expect(page.locator("#flash")).to_contain_text(f"内容等于版本 #{live_before}")
    expect(page.locator("#release-rows tr").first).to_contain_text(f"#{live_before + 2} 线上")
