import re


def slugify(text: str) -> str:
    """Lower-case words and numbers joined by dashes."""
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))
