"""Issue 2 done-when in a real browser: the chat page at / answers a lost-card question."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def page(stack) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium missing: apt-get install -y chromium fonts-noto-cjk (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking",
                  "--disable-component-update"])
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_chat_page_answers_lost_card_and_buttons_work(stack, page) -> None:
    from playwright.sync_api import expect

    page.goto(f"{stack.base_url}/?user_id=browser-u1")
    expect(page.locator(".chat-header .title")).to_have_text("信用卡智能客服")
    greeting_bubbles = page.locator(".msg.bot").count()  # the welcome text mentions 挂失 too
    page.fill("#input", "我的信用卡丢了怎么办")
    page.click("#send")
    expect(page.locator(".msg.user").last).to_contain_text("我的信用卡丢了怎么办")
    answer = page.locator(".msg.bot").nth(greeting_bubbles)
    expect(answer).to_contain_text("挂失", timeout=60_000)
    # the answer was recorded as a KB answer: the widget offers feedback on it
    expect(page.locator(".feedback").last).to_be_visible()
    page.screenshot(path="/tmp/chat_lost_card.png", full_page=True)

    # bad input never reaches the server as an error page: an empty message is not sent
    before = page.locator(".msg").count()
    page.fill("#input", "   ")
    page.click("#send")
    assert page.locator(".msg").count() == before
