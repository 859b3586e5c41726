"""The README's commands exist as written: every `hashrc SUB` it shows is a sub-command,
and every long option it shows for it is one that sub-command accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from asic_bridge.cli import build_parser

README = (Path(__file__).parents[1] / "README.md").read_text()
COMMANDS = sorted(set(re.findall(r"hashrc ([a-z]+)", README)) - {"is", "tests"})


def _options(sub: str) -> set[str]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return {opt for action in subparsers.choices[sub]._actions for opt in action.option_strings}


def test_readme_names_commands() -> None:
    assert {"demo", "dashboard", "export", "captures", "pool", "emulate", "capture"} <= set(COMMANDS)


@pytest.mark.parametrize("sub", COMMANDS)
def test_readme_commands_and_their_options_exist(sub: str) -> None:
    options = _options(sub)
    shown = set()
    for line in README.splitlines():
        for match in re.finditer(rf"hashrc {sub}\b(.*)", line):
            shown |= set(re.findall(r"(--[a-z][a-z0-9-]*)", match.group(1)))
    assert shown <= options, f"README shows {sorted(shown - options)} for hashrc {sub}"


def test_make_targets_in_the_readme_exist() -> None:
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    for target in re.findall(r"^make ([a-z]+)", README, flags=re.M):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
