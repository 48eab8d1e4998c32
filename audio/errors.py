"""Errors of the audio layer, and the root of every error the service raises on purpose.

The root lives here, in the lowest layer, so that audio's errors and the service's
(`broadcaster.errors`, which re-exports all of these) are one hierarchy: the CLI and the web
layer handle `BroadcasterError` and nothing else.
"""


class BroadcasterError(Exception):
    """Base of every error the service raises on purpose."""


class AudioError(BroadcasterError):
    """Synthesis, rendering, caching or playback failed."""


class SynthesisError(AudioError):
    """The TTS engine failed or produced an unusable clip for a text."""

    def __init__(self, text: str, reason: str) -> None:
        shown = text if len(text) <= 40 else text[:37] + "..."
        super().__init__(f"synthesis failed for {shown!r}: {reason}")
        self.text = text
        self.reason = reason


class InvalidInput(AudioError):
    """The text or the settings given for a clip are unusable."""


class UnknownVoice(InvalidInput):
    """The requested voice is not installed."""
