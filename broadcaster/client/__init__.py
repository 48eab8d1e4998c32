"""Playback client: sync, cache and playback loop for one loudspeaker."""
