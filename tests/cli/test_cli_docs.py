"""docs/commandline.rst and the README's command line section agree with the code: every command
and option, every exit code, and the exact texts users see."""

from __future__ import annotations

import argparse
import os
import re
from typing import Iterator, Tuple

from dxltieclient import TieServiceNotFoundError
from dxltieclient.cli.args import build_parser
from dxltieclient.cli.commands import COMMANDS, EXTERNAL_NEEDS_FILENAME
from dxltieclient.cli.errors import EXIT_CODES_HELP

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _read(*parts: str) -> str:
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as stream:
        return stream.read()


def _readme_cli_section() -> str:
    readme = _read("README.md")
    start = readme.index("## Command line")
    return readme[start:readme.index("\n## ", start + 1)]


def _options() -> Iterator[Tuple[str, str]]:
    parser = build_parser()
    yield from (("dxltie", option) for action in parser._actions
                for option in action.option_strings)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((name, option) for sub_action in sub._actions
                            for option in sub_action.option_strings)


def test_every_command_and_option_is_documented() -> None:
    docs = _read("docs", "commandline.rst")
    for command in COMMANDS:
        assert "``{} ".format(command) in docs or "``{}``".format(command) in docs, command
    missing = sorted({"{} {}".format(command, option) for command, option in _options()
                      if "``{}".format(option) not in docs})
    assert not missing, "undocumented options: {}".format(missing)


def test_every_exit_code_is_documented_in_both_places() -> None:
    codes = re.findall(r"(?m)^  (\d+)  ", EXIT_CODES_HELP)
    assert codes == ["0", "1", "2", "3", "4", "5", "6", "130"]
    docs, readme = _read("docs", "commandline.rst"), _readme_cli_section()
    for code in codes:
        assert re.search(r"(?m)^{}\s+\S".format(code), docs), code
        assert re.search(r"\b{}\b".format(code), readme), code


def test_the_exact_texts_users_see_are_documented() -> None:
    docs = " ".join(_read("docs", "commandline.rst").replace("``", "").split())
    no_service = str(TieServiceNotFoundError("unable to locate service for request",
                                             -2147483647, "/mcafee/service/tie/file/reputation"))
    assert "dxltie: error: f2c7bb8acc97f92e987a2d4087d021b1: " + no_service in docs
    assert EXTERNAL_NEEDS_FILENAME.split(". ")[0] in docs
    readme = _readme_cli_section()
    assert "no TIE server answered" in readme and "--dry-run" in readme
