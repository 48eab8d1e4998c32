"""Issue 16 in headless Chromium: a chief previews a notice and sees each character's reading."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import loaded

pytestmark = pytest.mark.integration


def test_preview_shows_each_character_with_its_syllable(page_as: Any) -> None:
    page = page_as("chief-a")
    page.click('nav a[href="/messages"]')
    page.click("text=甲村停水通知")
    loaded(page)  # the preview button works once the deferred panel.js has run
    page.fill('textarea[name="text"]', "银行的大夫下午1点到，重庆回来的请登记。")
    page.click("#preview-button")
    page.wait_for_selector("#reading-line:not([hidden])")
    rubies = page.locator("#reading-text ruby")
    pairs = [
        (
            rubies.nth(i).evaluate("r => r.firstChild.textContent"),
            rubies.nth(i).locator("rt").text_content(),
        )
        for i in range(rubies.count())
    ]
    assert pairs[:5] == [("银", "yín"), ("行", "háng"), ("的", "de"), ("大", "dài"), ("夫", "fu")]
    assert ("重", "chóng") in pairs and ("一", "yī") in pairs
    assert page.get_attribute("#reading-text", "title").startswith("yin2 hang2 de5 dai4 fu5 ")
