"""The README is the user's contract: every command and every setting must be documented."""

from __future__ import annotations

from pathlib import Path

import click

from registry.cli import main
from registry.core.settings import FeatregSettings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "featreg") -> list[str]:
    names = []
    for name, command in group.commands.items():
        full = f"{prefix} {name}"
        names.append(full)
        if isinstance(command, click.Group):
            names.extend(_commands(command, full))
    return names


def test_every_command_is_documented() -> None:
    missing = [c for c in _commands(main) if f"`{c}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_setting_is_documented() -> None:
    variables = [env for _name, _default, env, _doc in FeatregSettings.documentation()]
    missing = [v for v in variables if f"`{v}`" not in README]
    assert not missing, f"settings missing from README.md: {missing}"
