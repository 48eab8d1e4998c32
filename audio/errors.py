"""Errors of the audio layer. `broadcaster.errors` re-exports them into its hierarchy."""


class AudioError(Exception):
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
