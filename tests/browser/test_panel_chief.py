"""Issue 11, items 7-10: the chief's walk-through, on a desktop and on a phone (390 px)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import PASSWORD, loaded, signed_in
from tests.integration.harness import ADMIN_PASSWORD, Client, Server, wait_for

pytestmark = pytest.mark.integration
PHONE = {"width": 390, "height": 844}
SHOTS = Path("/tmp/broadcaster-browser-shots")


@pytest.fixture
def phone_as(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh phone-sized browser context (390 px wide, touch) signed in as the user."""
    pages: list[Any] = []

    def sign_in(name: str, password: str = PASSWORD) -> Any:
        page = signed_in(
            browser, server.url, name, password, viewport=PHONE, has_touch=True, is_mobile=True
        )
        pages.append(page)
        return page

    yield sign_in
    for page in pages:
        page.context.close()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _stops(page: Any) -> list[str]:
    return [i.input_value() for i in page.query_selector_all('#stops input[name="stop_name"]')]


def _numbers(page: Any) -> list[str]:
    return [n.text_content() for n in page.query_selector_all("#stops .row-no")]


def _fits(page: Any, width: int = PHONE["width"]) -> None:
    """Nothing makes the page wider than the phone (no sideways scrolling of the page)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def _visible_in_viewport(page: Any, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["width"] > 0 and box["x"] + box["width"] <= PHONE["width"] + 1


# -- item 10: route editing --------------------------------------------------------------------


def test_chief_drags_a_stop_numbers_follow_and_leaving_unsaved_warns(page_as: Any) -> None:
    page = page_as("chief-a")
    page.goto("/speakers/car-a")
    before = _stops(page)
    assert len(before) >= 3
    assert _numbers(page) == [str(i) for i in range(1, len(before) + 1)]
    assert page.get_attribute('#stops input[name="stop_name"]', "placeholder") == (
        "站点名称，如：东关街口"
    )
    assert not page.is_visible("[data-unsaved-note]")
    # Drag the last stop by its handle onto the first.
    last = page.locator("#stops li").nth(len(before) - 1).locator("[data-drag]")
    first = page.locator("#stops li").nth(0)
    # The mouse reaches only what is in the viewport: the form above the stops grew
    # (a fixed loudspeaker's location), so bring the list into view first.
    page.locator("#stops").scroll_into_view_if_needed()
    start, target = last.bounding_box(), first.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + 5, target["y"] + 3, steps=12)
    page.mouse.up()
    dragged = [before[-1], *before[:-1]]
    assert _stops(page) == dragged
    assert _numbers(page) == [str(i) for i in range(1, len(before) + 1)]
    assert page.is_visible("[data-unsaved-note]")
    _shot(page, "route-desktop-dragged")
    # Leaving now asks first; staying keeps the unsaved order.
    dialogs: list[str] = []

    def stay(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    page.close(run_before_unload=True)
    for _ in range(300):  # Playwright delivers the dialog while it is called (30 s: CI is slow)
        if dialogs:
            break
        page.wait_for_timeout(100)
    assert dialogs == ["beforeunload"]
    assert not page.is_closed() and _stops(page) == dragged
    page.remove_listener("dialog", stay)
    # Saved: the order holds, and leaving asks nothing.
    page.click('button:has-text("保存路线")')
    page.wait_for_selector("p.notice:has-text('路线已保存')")
    loaded(page)
    assert _stops(page) == dragged
    page.on("dialog", stay)
    page.close(run_before_unload=True)
    for _ in range(300):
        try:
            page.wait_for_timeout(100)  # raises once the page is closed
        except PlaywrightError:
            break
    assert page.is_closed() and dialogs == ["beforeunload"]
    # Back as it was, for the other tests of this session.
    restore = page_as("chief-a")
    restore.goto("/speakers/car-a")
    restore.locator("#stops li").nth(0).locator("button[data-down]").click()
    for i in range(1, len(before) - 1):
        restore.locator("#stops li").nth(i).locator("button[data-down]").click()
    assert _stops(restore) == before
    restore.click('button:has-text("保存路线")')
    restore.wait_for_selector("p.notice:has-text('路线已保存')")


def test_on_a_phone_the_route_editor_stays_usable(phone_as: Any) -> None:
    page = phone_as("chief-a")
    page.goto("/speakers/car-a")
    _fits(page)
    before = _stops(page)
    name = page.locator('#stops input[name="stop_name"]').first.bounding_box()
    assert name["width"] >= 150  # room to read and type a stop's name
    for selector in ("#stops button[data-up]", "#stops button[data-remove]", "[data-drag]"):
        assert _visible_in_viewport(page, selector), selector
    page.tap('button:has-text("添加站点")')
    page.locator('#stops input[name="stop_name"]').last.fill("村口")
    assert _numbers(page)[-1] == str(len(before) + 1)
    _shot(page, "route-phone")
    _fits(page)
    page.tap('button:has-text("保存路线")')
    page.wait_for_selector("p.notice:has-text('路线已保存')")
    loaded(page)  # the remove button below works once panel.js has run
    assert _stops(page) == [*before, "村口"]
    page.locator("#stops li").last.locator("button[data-remove]").tap()
    page.tap('button:has-text("保存路线")')
    page.wait_for_selector("p.notice:has-text('路线已保存')")
    loaded(page)
    assert _stops(page) == before


def test_on_a_phone_the_key_columns_stay(phone_as: Any, client_a: Client) -> None:
    page = phone_as("chief-a")
    page.goto("/messages")
    _fits(page)
    assert _visible_in_viewport(page, "table.list td audio")  # listen
    assert not page.is_visible("table.list td.clip-text")  # the long text gives way
    _shot(page, "messages-phone")
    assert wait_for(lambda: bool(client_a.events()), 60, 0.5)
    page.goto("/reports")
    page.wait_for_selector("table.plays tbody tr")
    _fits(page)
    assert _visible_in_viewport(page, "table.plays th:nth-child(4)")  # played to the end
    assert page.text_content("table.plays th:nth-child(4)") == "完整播完"
    _shot(page, "reports-phone")
    page.goto("/speakers")
    _fits(page)
    assert _visible_in_viewport(page, 'table.list a:has-text("路线单")')  # the row's action
    page.goto("/")
    _fits(page)
    nav = page.locator("nav.nav a").first.bounding_box()
    assert nav["width"] > nav["height"]  # the menu is a row of words, not one character a line


# -- item 7: names, not codes --------------------------------------------------------------------


def _reloaded(page: Any) -> bool:
    page.reload()
    return True


def test_chief_reads_reports_and_the_sheet_in_words_and_downloads_the_csv(
    page_as: Any, client_a: Client
) -> None:
    assert wait_for(lambda: bool(client_a.events()), 60, 0.5)
    page = page_as("chief-a")
    page.goto("/speakers/car-a/sheet")
    plan = page.text_content(".sheet table")
    assert "全区循环：全区通知" in plan and "s1" not in plan
    page.goto("/reports")
    # The plays reach the server with the client's next upload: reload until they are counted
    # (page.reload() returns a response, which is truthy: it must not end the wait by itself).
    assert wait_for(lambda: _reloaded(page) and page.is_visible("#totals-message"), 90, 1)
    totals = page.text_content("#totals-message")  # what plays depends on the tests before
    assert "全区通知" in totals or "甲村停水通知" in totals
    assert "甲村大喇叭" in page.text_content("#totals-speaker")
    _shot(page, "reports-desktop")
    with page.expect_download() as download:
        page.click("#csv-link")
    path = download.value.path()
    text = Path(path).read_text(encoding="utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert rows[0][:3] == ["喇叭", "区域", "消息"]
    assert any(r[:2] == ["甲村大喇叭", "甲村"] and r[2] in totals for r in rows[1:])
    assert ["按消息合计", "", "播放次数", "完整播完", "紧急播放次数", "分钟"] in rows


def test_admin_reads_the_audit_log_as_fields(page_as: Any) -> None:
    page = page_as("admin", ADMIN_PASSWORD)
    page.goto("/audit")
    page.select_option('select[name="action"]', "message.create")
    page.click('button:has-text("显示")')
    loaded(page)  # the filtered list is a new page: all() below does not wait
    rows = page.locator("table.audit tbody tr")
    assert {r.text_content() for r in rows.locator("td.what").all()} == {"新建消息"}
    row = rows.filter(has=page.locator('td.object:text-is("甲村停水通知")')).first
    assert "甲村" in row.locator("dl.detail").text_content()
    assert not row.locator("details.raw code").is_visible()  # the stored JSON stays folded
    _shot(page, "audit-desktop")


# -- item 9: copy a district message, voices by name ------------------------------------------


def test_chief_copies_a_district_message_and_picks_the_voice_by_name(page_as: Any) -> None:
    page = page_as("chief-a")
    page.goto("/messages/m1")
    assert page.is_visible("text=全区通用消息")
    page.click("#copy-message")
    page.wait_for_selector("#copy-note")
    loaded(page)  # the voices below are read at once
    assert page.input_value('textarea[name="text"]') == "请大家注意防火。"
    labels = [o.text_content() for o in page.query_selector_all('select[name="voice"] option')]
    assert "普通话（标准）" in labels and not any("sit/" in label for label in labels)
    page.select_option('select[name="voice"]', label="普通话（标准）")
    page.fill('input[name="title"]', "甲村防火")
    page.fill('textarea[name="text"]', "甲村请注意防火，不要焚烧秸秆。")
    page.click('button.primary:has-text("保存")')
    page.wait_for_selector("p.notice:has-text('已保存')")
    loaded(page)
    assert page.input_value('input[name="title"]') == "甲村防火"
    assert page.is_enabled('textarea[name="text"]')  # theirs: they edit it
    assert page.eval_on_selector('select[name="area"]', "s => s.selectedOptions[0].text") == "甲村"
    _shot(page, "message-copied")
    page.goto("/messages")
    assert page.is_visible("text=甲村防火") and page.is_visible("text=全区通知")


# -- item 8: every schedule on the chief's loudspeakers, the week, one-off and late windows ----


def test_chief_makes_a_one_off_late_schedule_after_a_warning_and_sees_the_week(
    page_as: Any, phone_as: Any
) -> None:
    page = page_as("chief-a")
    page.goto("/schedules")
    district = page.text_content("#district-list")
    assert "全区循环" in district and "甲村大喇叭" in district and "乙村" not in district
    page.click('a:has-text("新建排程")')
    loaded(page)  # is_visible does not wait: the whole form, and panel.js, first
    assert page.is_checked('input[name="how_often"][value="once"]')  # today only, by default
    assert page.is_visible('input[name="on_date"]') and not page.is_visible(
        'input[name="first_date"]'
    )
    page.select_option('select[name="program"]', label="甲村循环")
    page.check('input[name="speakers"][value="spk-a2"]')
    page.fill('input[name="priority"]', "-7")
    page.fill('input[name="end"]', "21:30")
    page.wait_for_selector("#late-warning:not([hidden])")
    assert "会打扰村民休息" in page.text_content("#late-warning")
    asked: list[str] = []

    def answer(accept: bool) -> Any:
        def handle(dialog: Any) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    no = answer(False)
    page.on("dialog", no)
    page.click('button.primary:has-text("保存")')
    page.wait_for_timeout(300)
    assert len(asked) == 1 and "确定要这样吗" in asked[0]
    assert "/schedules/new" in page.url  # not saved
    page.remove_listener("dialog", no)
    page.on("dialog", answer(True))
    page.click('button.primary:has-text("保存")')
    page.wait_for_selector("p.notice:has-text('已保存')")
    assert len(asked) == 2
    page.goto("/schedules")
    today = page.locator("#week-calendar .week-day.today")
    titles = [b.get_attribute("title") for b in today.locator(".block").all()]
    assert any(t and t.endswith("–21:30 甲村循环（甲村北喇叭）") for t in titles), titles
    assert today.locator(".block.late").count() >= 1
    _shot(page, "schedules-week-desktop")
    phone = phone_as("chief-a")
    phone.goto("/schedules")
    _fits(phone)  # the calendar scrolls inside itself
    assert phone.locator("#week-calendar .week-day.today .block").count() >= 1
    _shot(phone, "schedules-week-phone")


def test_admin_gives_a_chief_a_display_name_shown_in_the_header_on_a_phone(
    page_as: Any, phone_as: Any
) -> None:
    admin = page_as("admin", ADMIN_PASSWORD)
    admin.goto("/users/chief-b")
    admin.fill('input[name="display_name"]', "王乙 · 乙村")
    admin.click('button.primary:has-text("保存")')
    admin.wait_for_selector("p.notice:has-text('已保存')")
    loaded(admin)
    assert admin.input_value('input[name="display_name"]') == "王乙 · 乙村"
    phone = phone_as("chief-b")
    assert phone.text_content("header .user") == "王乙 · 乙村 · 村社负责人"
    _fits(phone)
    _shot(phone, "display-name-phone")
