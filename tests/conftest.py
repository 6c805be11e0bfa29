"""Shared pytest configuration."""

pytest_plugins = ["fakegithub.fixtures"]
