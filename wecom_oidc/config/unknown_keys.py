"""Unknown config keys (`[sever]`, `acess_token_ttl`, a client's `redirect_uri`)
would otherwise load silently and leave the admin wondering why a setting has no
effect. The raw mapping is wrapped so that every key the validator asks about is
recorded; whatever the file or environment holds beyond that is reported, with
the closest known key as a suggestion."""

from __future__ import annotations

import difflib
from typing import Any


class _Tracked(dict):
    """A table that records the keys asked about. Iterating a table (free-form
    tables such as extra_claims or urls) counts as knowing all its keys."""

    def __init__(self, data: dict[str, Any], path: str, asked: dict[str, set[str]]):
        super().__init__(data)
        self._path, self._asked = path, asked
        asked.setdefault(path, set())

    def _ask(self, key: object) -> None:
        if isinstance(key, str):
            self._asked[self._path].add(key)

    def __contains__(self, key: object) -> bool:
        self._ask(key)
        return super().__contains__(key)

    def __getitem__(self, key: str) -> Any:
        self._ask(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._ask(key)
        return super().get(key, default)

    def _all(self) -> None:
        self._asked[self._path].update(k for k in dict.keys(self) if isinstance(k, str))

    def items(self):
        self._all()
        return super().items()

    def keys(self):
        self._all()
        return super().keys()

    def values(self):
        self._all()
        return super().values()

    def __iter__(self):
        self._all()
        return super().__iter__()


def track(value: Any, asked: dict[str, set[str]], path: str = "") -> Any:
    """`value` with every table inside wrapped to record the keys asked about."""
    if isinstance(value, dict):
        return _Tracked({k: track(v, asked, f"{path}.{k}" if path else str(k))
                         for k, v in value.items()}, path, asked)
    if isinstance(value, list):
        return [track(v, asked, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def unknown(raw: Any, asked: dict[str, set[str]], path: str = "") -> list[tuple[str, str]]:
    """(key, 'unknown key (did you mean ...?)') for every key nobody asked about,
    in tables the validator read (a table it skipped, e.g. after an error, is
    not reported twice)."""
    problems: list[tuple[str, str]] = []
    if isinstance(raw, dict) and path in asked:
        known = asked[path]
        for key in dict.keys(raw):
            full = f"{path}.{key}" if path else str(key)
            if key not in known:
                close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append((full, f"unknown key{hint}"))
            else:
                problems.extend(unknown(dict.__getitem__(raw, key), asked, full))
    elif isinstance(raw, list):
        for i, v in enumerate(raw):
            problems.extend(unknown(v, asked, f"{path}[{i}]"))
    return problems
