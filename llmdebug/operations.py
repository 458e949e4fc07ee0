"""Operational health: rate-limit headroom, in-flight calls, failure streaks, the writer's own health."""
