"""textkit: small text utilities (the orchestrate demo project)."""

__version__ = "0.1.0"
