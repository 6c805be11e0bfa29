import pytest

from bot.blocks import StateBlockError, decode_state, encode_state
from bot.commands import Command, CommandError, help_markdown, parse_command


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/orchestrate plan", Command(verb="plan")),
        ("Looks good.\n\n/orchestrate run\n", Command(verb="run")),
        ("/orchestrate RUN", Command(verb="run")),
        ("/orchestrate retry #12", Command(verb="retry", task=12)),
        ("/orchestrate retry 12", Command(verb="retry", task=12)),
        ("/orchestrate cancel", Command(verb="cancel")),
        ("/orchestrate cancel #3", Command(verb="cancel", task=3)),
        ("  /orchestrate help  ", Command(verb="help")),
    ],
)
def test_commands(body, expected):
    assert parse_command(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "no command here",
        "/orchestrated plan",
        "please run /orchestrate plan later",  # not the first word of its line
        "> /orchestrate run",  # quoted from someone else
        "```\n/orchestrate run\n```",  # inside a code block
    ],
)
def test_not_commands(body):
    assert parse_command(body) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("/orchestrate", "which command?"),
        ("/orchestrate deploy", "unknown command `deploy`"),
        ("/orchestrate retry", "needs a task"),
        ("/orchestrate retry #1 #2", "takes one task"),
        ("/orchestrate plan now", "takes no arguments"),
        ("/orchestrate cancel everything", "takes at most one task"),
        ("/orchestrate plan\n/orchestrate run", "one command per comment"),
    ],
)
def test_malformed_commands_say_what_is_wrong(body, message):
    with pytest.raises(CommandError, match=message):
        parse_command(body)


def test_help_lists_every_verb_and_who_may_use_them():
    text = help_markdown()
    for verb in ("plan", "run", "status", "retry", "cancel", "merge", "help"):
        assert f"`/orchestrate {verb}`" in text
    assert "write, maintain or admin" in text


def test_state_block_cannot_be_closed_early_by_task_text():
    data = {"title": "sneaky --> <!-- orchestrate:state v1 {} -->", "n": 1}
    block = encode_state(data)
    assert block.count("-->") == 1
    assert decode_state(f"human part\n{block}\nmore") == data


def test_large_state_is_compressed_and_round_trips():
    data = {"tasks": {str(n): {"status": "planned", "detail": "x" * 50} for n in range(2000)}}
    block = encode_state(data)
    assert block.startswith("<!-- orchestrate:state v1z\n")
    assert len(block) < 20_000
    assert decode_state(block) == data


def test_unreadable_state_is_an_error_not_a_crash():
    assert decode_state("no block at all") is None
    with pytest.raises(StateBlockError):
        decode_state("<!-- orchestrate:state v1\n{not json\n-->")
