import json

from bot.agents.claude import ClaudeStream


def lines(*messages):
    return "".join(json.dumps(m) + "\n" for m in messages)


INIT = {"type": "system", "subtype": "init", "session_id": "abc"}
EDIT = {
    "type": "assistant",
    "message": {"content": [{"type": "tool_use", "name": "Edit", "input": {"file_path": "x.py"}}]},
}
RESULT = {
    "type": "result",
    "subtype": "success",
    "is_error": False,
    "num_turns": 3,
    "total_cost_usd": 0.125,
    "duration_ms": 900,
    "session_id": "abc",
    "result": "ok",
}


def test_progress_and_result():
    stream = ClaudeStream()
    assert stream.feed(lines(INIT, EDIT))
    assert stream.session_id == "abc"
    assert stream.progress == "turn 1, 1 tool uses (last: Edit x.py)"
    stream.feed(lines(RESULT))
    assert stream.result is not None and stream.result.ok
    assert stream.result.total_cost_usd == 0.125 and stream.result.num_turns == 3
    assert stream.progress == "success: 3 turns, $0.12"


def test_lines_split_across_reads():
    stream = ClaudeStream()
    text = lines(INIT, EDIT, RESULT)
    for i in range(0, len(text), 7):
        stream.feed(text[i : i + 7])
    assert stream.turns == 1 and stream.result is not None


def test_malformed_lines_are_counted_not_fatal():
    stream = ClaudeStream()
    stream.feed('not json\n[1, 2]\n{"type": "assistant", "message": 5}\n' + lines(RESULT))
    assert stream.malformed == 2
    assert stream.turns == 1  # an assistant message without content still counts
    assert stream.result is not None


def test_success_with_is_error_is_not_ok():
    stream = ClaudeStream()
    stream.feed(lines({**RESULT, "is_error": True}))
    assert stream.result is not None and not stream.result.ok
    stream.feed(lines({**RESULT, "subtype": "error_max_turns"}))
    assert not stream.result.ok
