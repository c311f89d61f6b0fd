"""Issue 16 item 5: an HTML/script payload is shown as text, never run, in the cardholder widget,
the agent console and the ops console (headless Chromium on the real stack)."""

from __future__ import annotations

import os
import re

import pytest

pytestmark = pytest.mark.e2e

PAYLOAD = ('<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
           '<a href="javascript:window.__xss=3">点我</a>账单问题')
TIMEOUT_MS = 60_000


def no_injection(page) -> None:
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x'], script:not([src]), a[href^='javascript']").count() == 0


def test_payload_is_text_in_widget_agent_and_ops_consoles(stack, browser) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    errors: list[str] = []
    chat = browser.new_context(viewport={"width": 480, "height": 860}).new_page()
    chat.on("pageerror", lambda exc: errors.append(str(exc)))
    chat.goto(f"{stack.base_url}/")  # an anonymous visitor
    chat.fill("#input", PAYLOAD)
    chat.press("#input", "Enter")
    user_bubble = chat.locator(".msg.user", has_text="onerror")
    expect(user_bubble).to_contain_text(PAYLOAD)
    expect(chat.locator("#typing")).to_be_hidden()
    chat.click("#request-human")
    expect(chat.locator("#status-line")).to_contain_text("排队中")
    chat.fill("#input", PAYLOAD)
    chat.press("#input", "Enter")
    no_injection(chat)

    console = browser.new_context(viewport={"width": 1360, "height": 860}).new_page()
    console.on("pageerror", lambda exc: errors.append(str(exc)))
    console.goto(f"{stack.base_url}/agent")
    console.fill("#login-user", os.environ.get("DEMO_AGENT_USER", "agent"))
    console.fill("#login-pass", os.environ.get("DEMO_AGENT_PASSWORD", "agent-dev-pass"))
    console.click("#login-submit")
    expect(console.locator("#desk-view")).to_be_visible()
    console.click("#status-online")
    expect(console.locator("#status-online")).to_have_class(re.compile("on"))
    entry = console.locator("#list-queue .item", has_text="onerror").first
    expect(entry).to_be_visible()
    entry.locator("button.accept").click()
    transcript = console.locator("#transcript")
    expect(transcript).to_contain_text("<script>window.__xss=2</script>")
    no_injection(console)

    ops = browser.new_context(viewport={"width": 1360, "height": 860}).new_page()
    ops.on("pageerror", lambda exc: errors.append(str(exc)))
    ops.goto(f"{stack.base_url}/ops")
    ops.fill("#login-user", os.environ.get("DEMO_OPS_USER", "ops"))
    ops.fill("#login-pass", os.environ.get("DEMO_OPS_PASSWORD", "ops-dev-pass"))
    ops.click("#login-submit")
    ops.click("#tab-inbox")
    expect(ops.locator("#inbox-meta")).to_contain_text("种问法")
    expect(ops.locator("#inbox-list")).to_contain_text("onerror")
    no_injection(ops)
    # the agent ends it so the shared stack's queue is clean for later modules
    console.once("dialog", lambda dialog: dialog.accept())
    console.click("#resolve-btn")
    assert errors == [], errors
