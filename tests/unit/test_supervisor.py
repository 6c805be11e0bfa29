from bot.agents.supervisor import failure_digest, is_transient


def test_a_failure_said_again_with_other_numbers_has_the_same_digest():
    first = failure_digest("12:01:07 build failed after 3.2s (pid 4411)\n  in setup.cfg\n")
    again = failure_digest("12:09:55 build failed after 14.0s (pid 981)\n in setup.cfg")
    assert first and first == again
    assert failure_digest("build failed in setup.cfg") != failure_digest("build failed in tox.ini")


def test_a_failure_the_service_caused_has_no_digest():
    for said in ("API Error: 529 overloaded_error", "HTTP 429 Too Many Requests", "ECONNRESET"):
        assert failure_digest(said) == ""
        assert is_transient(said, changed_anything=True, exit_code=1)
