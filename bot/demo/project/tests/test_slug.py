import unittest

from textkit.slug import slugify


class SlugifyTest(unittest.TestCase):
    def test_words_and_numbers(self):
        self.assertEqual(slugify("Top 10 Tips!"), "top-10-tips")
