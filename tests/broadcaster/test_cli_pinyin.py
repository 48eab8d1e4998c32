"""`broadcaster normalize --pinyin` as a user runs it (issue 16): a real process."""

from __future__ import annotations

from tests.broadcaster.test_cli_audio import broadcaster


def test_normalize_pinyin_prints_the_syllables_given_to_the_engine(tmp_path):
    result = broadcaster("normalize", "--pinyin", "请到银行还钱，1点前到3#楼", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout == "qing3 dao4 yin2 hang2 huan2 qian2， yi1 dian3 qian2 dao4 san1 hao4 lou2\n"
    )


def test_normalize_pinyin_uses_the_configured_lexicon(tmp_path):
    # config.yaml spells 洪洞 as 洪同 (characters): the syllables are those of 洪同.
    result = broadcaster("normalize", "--pinyin", "洪洞县", cwd=tmp_path)
    assert result.stdout.strip() == "hong2 tong2 xian4"
