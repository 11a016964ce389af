"""Replace methods on moto's process-wide classes while a stack runs, and put the originals back after the last one stops."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

Replacement = tuple[type | ModuleType, str, Callable[..., Any]]  # a class's method or a module's function
_INHERITED = object()  # marks a replaced attribute that the class only inherited (or did not have)


class MethodPatch:
    """A set of method replacements, installed while at least one stack (by port) holds it.

    moto's backends and response classes are process-wide, so the replacement is too;
    acquiring twice for the same port is a no-op, and the last release restores exactly
    what was there before (a method the class only inherited, or lacked, is deleted again).
    """

    def __init__(self, replacements: Sequence[Replacement]) -> None:
        self._replacements = tuple(replacements)
        self._lock = threading.Lock()
        self._originals: dict[tuple[type | ModuleType, str], Any] = {}
        self._ports: set[int] = set()

    def acquire(self, port: int) -> None:
        with self._lock:
            if not self._originals:
                for owner, name, replacement in self._replacements:
                    self._originals[(owner, name)] = owner.__dict__.get(name, _INHERITED)
                    setattr(owner, name, replacement)
            self._ports.add(port)

    def release(self, port: int) -> None:
        with self._lock:
            self._ports.discard(port)
            if self._ports:
                return
            for (owner, name), original in self._originals.items():
                if original is _INHERITED:
                    delattr(owner, name)
                else:
                    setattr(owner, name, original)
            self._originals.clear()

    @property
    def installed(self) -> bool:
        return bool(self._originals)
