"""Audio: text normalization, synthesis, rendering, caching and playback sinks."""
