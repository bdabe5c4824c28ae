"""The command line: the same core functions the window's buttons run.

Each subcommand lives in its own module exposing `register(subparsers)`, which
adds its parser and sets `handler` to a function `(args) -> int`.
"""
