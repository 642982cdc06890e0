"""Import on demand, so `featreg --version`, `--help` and commands that need no database start
in milliseconds: a click group whose commands load when they are invoked or listed, and a
stand-in for a module or function that imports it on first use."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

PLUGIN_GROUP = "featreg.cli"
"""Entry points of this group are called with the `featreg` group to attach their commands."""


class LazyGroup(click.Group):
    """A group whose commands live in modules imported only when a command is needed.

    `lazy_commands` maps a command name to the module that defines it (the module attaches the
    command to this group when it is imported). Plugins (entry point group `featreg.cli`) are
    looked up only when a name is not built in, or when every command is listed (`--help`)."""

    def __init__(self, *args: Any, lazy_commands: Mapping[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})
        self._plugins_loaded = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugins()
        return sorted(set(self.commands) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            module = self.lazy_commands.get(cmd_name)
            if module is not None:
                importlib.import_module(module)
            else:
                self._load_plugins()
        return self.commands.get(cmd_name)

    def _load_plugins(self) -> None:
        """Commands contributed by other packages (the web UI adds `serve` and `demo`), so
        `registry` never imports `web`. Scanning entry points costs tens of milliseconds:
        done once, and only when needed."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=PLUGIN_GROUP):
            ep.load()(self)


class Deferred:
    """A stand-in for `module` or `module:attribute`, imported on first attribute access or
    call. Declare the real import under `if TYPE_CHECKING:` so type checking sees it."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._value: Any = None

    def _resolve(self) -> Any:
        if self._value is None:
            module, _, attribute = self._target.partition(":")
            value: Any = importlib.import_module(module)
            self._value = getattr(value, attribute) if attribute else value
        return self._value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._resolve(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._resolve()(*args, **kwargs)


def deferred(target: str) -> Any:
    """`deferred("registry.store.db:session_scope")`: the function, imported when called;
    `deferred("registry.catalog.service")`: the module, imported on first attribute access."""
    return Deferred(target)


class DeferredValue:
    """An option default kept in another module (`module:attribute`): click calls it when the
    option is used, and `--help` shows its value, so only then is the module imported."""

    def __init__(self, target: str) -> None:
        self._value = Deferred(target)

    def __call__(self) -> Any:
        return self._value._resolve()

    def __str__(self) -> str:
        return str(self())


class DeferredChoice(click.Choice):  # type: ignore[type-arg]
    """A choice among the names in another module's collection (`module:attribute`), read
    when a value is checked or the command's help is shown."""

    def __init__(self, target: str, case_sensitive: bool = True) -> None:
        super().__init__((), case_sensitive)
        self._names = Deferred(target)

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self._names._resolve())

    @choices.setter
    def choices(self, value: Any) -> None:
        pass
