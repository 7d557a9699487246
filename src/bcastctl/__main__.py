"""`python -m bcastctl ...` is the `bcastctl` command (the lab starts nodes this way)."""

from bcastctl.cli.main import run

if __name__ == "__main__":
    run()
