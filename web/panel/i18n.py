"""Simplified Chinese by default, English on request: a small gettext of our own.

Source strings are English; `web/panel/catalog_zh.py` maps each to Chinese. A test checks
that every string the templates and panel modules pass to `_()` has a translation.
"""

from __future__ import annotations

from flask import Flask, request, session

from web.panel.catalog_zh import ZH

LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT = "zh"


def locale() -> str:
    """The user's language: the session's choice, else Chinese."""
    try:
        chosen = session.get("lang")
    except RuntimeError:  # outside a request
        return DEFAULT
    return chosen if chosen in LANGUAGES else DEFAULT


def gettext(message: str, **values: object) -> str:
    """`message` in the user's language, with `%(name)s` placeholders filled."""
    text = ZH.get(message, message) if locale() == "zh" else message
    return text % values if values else text


_ = gettext


def install(app: Flask) -> None:
    """Make `_`, the language and the languages available to every template."""
    app.jinja_env.globals.update(_=gettext, languages=LANGUAGES)

    @app.context_processor
    def language() -> dict[str, object]:
        return {"lang": locale(), "html_lang": "zh-CN" if locale() == "zh" else "en"}

    @app.before_request
    def remember_choice() -> None:
        # ?lang=en on any panel page switches the language for the session.
        wanted = request.args.get("lang")
        if wanted in LANGUAGES:
            session["lang"] = wanted
