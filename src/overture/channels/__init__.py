"""Channels: content rendering, providers, the outbox."""
