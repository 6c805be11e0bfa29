"""Agents: what each task's agent is told (prompt), how it is started and watched (runner)."""
