from bot.agents.supervisor import failure_digest, is_transient, paths_named, went_wrong


def test_a_failure_said_again_with_other_numbers_has_the_same_digest():
    first = failure_digest("12:01:07 build failed after 3.2s (pid 4411)\n  in setup.cfg\n")
    again = failure_digest("12:09:55 build failed after 14.0s (pid 981)\n in setup.cfg")
    assert first and first == again
    assert failure_digest("build failed in setup.cfg") != failure_digest("build failed in tox.ini")


def test_a_failure_the_service_caused_has_no_digest():
    for said in ("API Error: 529 overloaded_error", "HTTP 429 Too Many Requests", "ECONNRESET"):
        assert failure_digest(said) == ""
        assert is_transient(said, changed_anything=True, exit_code=1)


def test_the_files_a_failure_is_about_are_on_the_lines_that_say_what_went_wrong():
    git_apply = (
        "Checking patch httpx/_types.py...\n"
        "Checking patch httpx/_client.py...\n"
        "error: while searching for:\n"
        "error: patch failed: httpx/_client.py:120\n"
        "Applied patch to 'httpx/_types.py' cleanly.\n"
        "error: httpx/_client.py: patch does not apply\n"
    )
    assert paths_named(went_wrong(git_apply)) == ["httpx/_client.py"]
    pytest = (
        "tests/test_errors.py ....                [ 40%]\n"
        "tests/test_cli.py ..F.                   [100%]\n"
        "FAILED tests/test_cli.py::test_run - AssertionError: exit code 2\n"
    )
    # a file whose name says "errors" passed; the one that failed is named where it failed
    assert paths_named(went_wrong(pytest)) == ["tests/test_cli.py"]
    # a traceback names its files on lines that say nothing went wrong: none to choose from
    # here, and the caller takes every path the output names
    traceback = 'Traceback (most recent call last):\n  File "src/app.py", line 3\nNameError: x\n'
    assert paths_named(went_wrong(traceback)) == []
