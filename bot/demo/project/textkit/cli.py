import argparse

from textkit.slug import slugify
from textkit.stats import word_count


def main(argv=None):
    parser = argparse.ArgumentParser(prog="textkit")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("slug").add_argument("text")
    commands.add_parser("count").add_argument("text")
    args = parser.parse_args(argv)
    if args.command == "slug":
        print(slugify(args.text))
    elif args.command == "count":
        print(word_count(args.text))
    return 0
