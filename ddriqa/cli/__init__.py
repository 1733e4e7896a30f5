"""The ``ddriqa`` command line (click).

Each command lives in its own module of this package and keeps its heavy imports (torch,
scikit-learn, OpenCV) inside the command function, so that ``ddriqa --help`` stays instant.
Results go to stdout or to a file; progress and logs go to stderr.
"""

from __future__ import annotations

import click

from ddriqa import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ddriqa")
def main():
    """Identify image distortions from the deep degradation representations of SR networks."""


# Commands are registered explicitly, one line each (no filename scanning).
