import pytest

from bot.redact import Redactor


@pytest.mark.parametrize(
    "secret",
    [
        "ghp_" + "a" * 36,
        "ghs_" + "B1" * 18,
        "github_pat_" + "x1_" * 20,
        "sk-ant-api03-" + "Z" * 40,
        "sk-proj-" + "q" * 40,
        "AKIA" + "ABCDEFGHIJKLMNOP",
        "AIza" + "b" * 35,
    ],
)
def test_token_shapes_are_masked(secret):
    assert Redactor()(f"before {secret} after") == "before *** after"


def test_aws_secret_keeps_its_key_name():
    text = "aws_secret_access_key = " + "A" * 40
    assert Redactor()(text) == "aws_secret_access_key = ***"


def test_configured_values_are_masked_longest_first():
    redact = Redactor.from_env(
        ["A", "B", "SHORT", "MISSING"],
        {"A": "s3cret-value", "B": "s3cret-value-longer", "SHORT": "abc"},
    )
    assert redact("x s3cret-value-longer y s3cret-value z abc") == "x *** y *** z abc"


def test_ordinary_text_is_untouched():
    text = "sk-short and ghp_tooshort and a normal sentence about tasks"
    assert Redactor()(text) == text
