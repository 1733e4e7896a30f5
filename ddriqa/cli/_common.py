"""Small helpers shared by the CLI commands: stderr logging and progress bars."""

from __future__ import annotations

import sys

import click


def log(message):
    """Write one line of progress or log text to stderr."""
    click.echo(message, err=True)


def progress(iterable=None, *, length=None, label=None):
    """A click progress bar drawn on stderr (results keep stdout to themselves)."""
    return click.progressbar(
        iterable, length=length, label=label, file=sys.stderr, show_pos=True, show_eta=True
    )
