"""Issue 2 done-when in a real browser: the chat page at / answers a lost-card question."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e



@pytest.fixture()
def page(browser) -> Any:
    return browser.new_page()


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
