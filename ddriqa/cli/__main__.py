"""``python -m ddriqa.cli``: the same command line as the ``ddriqa`` script."""

from ddriqa.cli import main

if __name__ == "__main__":
    main(prog_name="ddriqa")
