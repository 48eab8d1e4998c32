"""One error root (issue 11): the CLI and the web layer handle `BroadcasterError` only, so
every error the service raises on purpose, audio's included, must be one."""

from __future__ import annotations

import inspect

import audio.errors
import broadcaster.errors
from broadcaster.errors import BroadcasterError


def test_every_error_class_of_the_service_has_the_one_root():
    classes = [
        value
        for module in (audio.errors, broadcaster.errors)
        for _, value in inspect.getmembers(module, inspect.isclass)
        if issubclass(value, Exception)
    ]
    assert len(classes) >= 12
    assert [c.__name__ for c in classes if not issubclass(c, BroadcasterError)] == []
    assert audio.errors.BroadcasterError is BroadcasterError


def test_audio_errors_are_re_exported_by_the_service():
    for name in ("AudioError", "InvalidInput", "SynthesisError", "UnknownVoice"):
        assert getattr(broadcaster.errors, name) is getattr(audio.errors, name)
        assert name in broadcaster.errors.__all__
