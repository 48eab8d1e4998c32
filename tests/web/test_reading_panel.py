"""Issue 16 in the panel: the preview shows the reading for review, the lexicon takes pinyin."""

from __future__ import annotations

from broadcaster.service import Service
from tests.web.conftest import post


def test_preview_gives_the_syllables_and_each_character_with_its_own(login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as("chief-tunli")
    body = post(client, "/messages/preview", {"text": "银行的大夫，3#楼"}).get_json()
    assert body["spoken"] == "银行的大夫，三号楼"
    assert body["pinyin"] == "yin2 hang2 de5 dai4 fu5， san1 hao4 lou2"
    assert body["ruby"] == [
        ["银", "yín"],
        ["行", "háng"],
        ["的", "de"],
        ["大", "dài"],
        ["夫", "fu"],
        ["，", ""],
        ["三", "sān"],
        ["号", "hào"],
        ["楼", "lóu"],
    ]


def test_preview_with_a_voice_that_reads_characters_gives_no_syllables(login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as("chief-tunli")
    body = post(client, "/messages/preview", {"text": "银行", "voice": "sit/yue"}).get_json()
    assert body["spoken"] == "银行"
    assert (body["pinyin"], body["ruby"]) == ("", [])


def test_message_page_has_the_reading_line(login_as) -> None:  # type: ignore[no-untyped-def]
    page = login_as("admin").get("/messages/new").get_data(as_text=True)
    assert 'id="reading-text"' in page and "读音（送给语音引擎的拼音）" in page


def test_lexicon_reading_in_pinyin_keeps_the_word_and_is_read_as_given(
    login_as, service: Service
) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    assert post(client, "/lexicon", {"entries": "洪洞 = hóng tóng"}).status_code == 302
    body = post(client, "/messages/preview", {"text": "洪洞县"}).get_json()
    assert body["spoken"] == "洪洞县"
    assert body["pinyin"] == "hong2 tong2 xian4"


def test_lexicon_refuses_a_pinyin_reading_with_no_such_syllable(login_as, service: Service) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    response = post(client, "/lexicon", {"entries": "尧都 = yao2 du1\n洪洞 = hóngx tóng"})
    assert response.status_code == 422
    assert "2" in response.get_data(as_text=True)
    assert service.store.get_meta("panel.lexicon") is None
