"""A YAML reader for configuration files, plus a path-tracking view for precise errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import yaml

from broadcaster.errors import ConfigError


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's base-60 numbers and octal: `19:00` stays a string."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]+(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$"),
    list("-+0123456789."),
)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; every failure is a `ConfigError` naming the file (and line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc})") from exc
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{where}: not valid YAML ({problem})") from exc


_MISSING = object()


class Node:
    """A value read from a file, with the key path that led to it, for error messages."""

    def __init__(self, value: Any, file: Path, path: str = "") -> None:
        self.value = value
        self.file = file
        self.path = path

    def fail(self, expected: str) -> NoReturn:
        """Raise `ConfigError`: file, key path, what was expected and what was found."""
        found = "nothing" if self.value is None else f"{self.value!r}"
        if len(found) > 60:
            found = found[:57] + "..."
        raise ConfigError(
            f"{self.file}: {self.path or '(top level)'}: expected {expected}, got {found}"
        )

    def _child_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def mapping(self, allowed: set[str] | None = None) -> dict[str, Node]:
        """The children of a mapping; keys outside `allowed` are an error (catches typos)."""
        if not isinstance(self.value, dict):
            self.fail("a mapping (key: value)")
        if allowed is not None:
            unknown = sorted(str(k) for k in self.value if k not in allowed)
            if unknown:
                raise ConfigError(
                    f"{self.file}: {self._child_path(unknown[0])}: unknown key "
                    f"(allowed here: {', '.join(sorted(allowed))})"
                )
        return {str(k): Node(v, self.file, self._child_path(str(k))) for k, v in self.value.items()}

    def items(self) -> Iterator[Node]:
        """The children of a list (an absent list is empty)."""
        if self.value is None:
            return iter(())
        if not isinstance(self.value, list):
            self.fail("a list")
        return (Node(v, self.file, self._child_path(i)) for i, v in enumerate(self.value))

    def get(self, key: str, default: Any = _MISSING) -> Node:
        """A child of a mapping; without a default, a missing key is an error."""
        children = self.mapping()
        if key in children:
            return children[key]
        if default is _MISSING:
            raise ConfigError(f"{self.file}: {self._child_path(key)}: required key is missing")
        return Node(default, self.file, self._child_path(key))

    def str(self, *, allow_empty: bool = False) -> str:
        if isinstance(self.value, (int, float)) and not isinstance(self.value, bool):
            return str(self.value)
        if not isinstance(self.value, str) or (not allow_empty and not self.value.strip()):
            self.fail("a non-empty string" if not allow_empty else "a string")
        return self.value.strip()

    def int(self, low: int | None = None, high: int | None = None) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            self.fail(_range("a whole number", low, high))
        if (low is not None and self.value < low) or (high is not None and self.value > high):
            self.fail(_range("a whole number", low, high))
        return self.value

    def float(self, low: float | None = None, high: float | None = None) -> float:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            self.fail(_range("a number", low, high))
        value = float(self.value)
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail(_range("a number", low, high))
        return value

    def bool(self) -> bool:
        if not isinstance(self.value, bool):
            self.fail("true or false")
        return self.value


def _range(kind: str, low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{kind} from {low} to {high}"
    if low is not None:
        return f"{kind} of at least {low}"
    if high is not None:
        return f"{kind} of at most {high}"
    return kind
