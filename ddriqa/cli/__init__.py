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
    # `import ddriqa` (above) has set OMP_WAIT_POLICY=PASSIVE unless the user set it; commands import
    # torch lazily, after that.


# Commands are registered explicitly, one line each (no filename scanning).
from ddriqa.cli.analyze import analyze  # noqa: E402

main.add_command(analyze)
from ddriqa.cli.generalization import generalization  # noqa: E402

main.add_command(generalization)
from ddriqa.cli.classify import classify  # noqa: E402

main.add_command(classify)
from ddriqa.cli.train import train  # noqa: E402

main.add_command(train)
from ddriqa.cli.extract import extract  # noqa: E402

main.add_command(extract)
from ddriqa.cli.benchmark import benchmark  # noqa: E402

main.add_command(benchmark)
from ddriqa.cli.demo import demo  # noqa: E402

main.add_command(demo)
from ddriqa.cli.train_sr import train_sr  # noqa: E402

main.add_command(train_sr)
from ddriqa.cli.upscale import upscale  # noqa: E402

main.add_command(upscale)
from ddriqa.cli.eval_sr import eval_sr  # noqa: E402

main.add_command(eval_sr)
from ddriqa.cli.pack_sr_data import pack_sr_data  # noqa: E402

main.add_command(pack_sr_data)
from ddriqa.cli.degrade import degrade  # noqa: E402

main.add_command(degrade)
