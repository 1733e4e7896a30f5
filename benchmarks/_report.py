"""The common head of every benchmark report written to benchmarks/results/."""

from __future__ import annotations

import datetime
import sys


def report_head(title, script, argv=None):
    """Markdown lines: the title, the measurement time and the command that reproduces the report."""
    args = argv if argv is not None else sys.argv[1:]
    command = f"python benchmarks/{script} " + " ".join(args)
    return [
        f"# {title}",
        "",
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `benchmarks/{script}`.",
        "",
        "Reproduce (from the repository root):",
        "",
        "```",
        command.strip(),
        "```",
        "",
    ]
