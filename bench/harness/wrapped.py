"""A project target served through a bench script's `--serve` wrapper (the script runs
the server module itself, with a signal handler or probe of its own installed first)."""

import argparse
import os
import runpy
import sys
from collections.abc import Callable
from pathlib import Path

from bench.harness import targets


def wrapped_target(name: str, env: dict[str, str], port: int, script: Path) -> targets.Target:
    """`project` or `project@REF` (one process on `port`), started as
    `script --serve MODULE ARGS…`."""
    _, _, ref = name.partition("@")
    source = targets.source_of(ref) if ref else targets.ROOT

    class Wrapped(targets.Target):
        def _daphne(self, port: int) -> list[str]:
            _python, _m, module, *rest = super()._daphne(port)
            return [sys.executable, str(script.resolve()), "--serve", module, *rest]

    return Wrapped("project", 1, port, env, source=source)


def serve_module(argv: list[str]) -> None:
    """In the wrapper: run `MODULE ARGS…` as `python -m` would, from the working
    directory (the target's tree)."""
    sys.path.insert(0, os.getcwd())
    module, *args = argv
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def command_line(
    description: str, serve: Callable[[list[str]], None]
) -> argparse.ArgumentParser | None:
    """A wrapping bench script's parser, with `--targets`; or None once it has served
    (run as `script --serve MODULE ARGS…` by `wrapped_target`)."""
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2:])
        return None
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--targets", default="project")
    return parser
