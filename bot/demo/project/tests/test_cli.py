import contextlib
import io
import unittest

from textkit.cli import main


def run(*argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(list(argv))
    return out.getvalue().strip()


class CliTest(unittest.TestCase):
    def test_slug(self):
        self.assertEqual(run("slug", "Hello World"), "hello-world")
