"""The `groups` claim and group selectors, from the neutral Identity.

A group is a department (its full path "研发中心/平台部/SRE组", its name "SRE组", or
both) or a tag, with an optional prefix per kind. Order is deterministic: the main
department first, then the other departments in the directory's order (each followed
by its parents when `parents` is on), then tags by name; then the include/exclude
filters and the `max` cap.

Selectors name who a role or policy applies to:
    user:<userid>   (case-insensitive)
    dept:<id>       a department id, sub-departments included
    dept:<path>     a path as in the groups claim ("研发中心/平台部"), sub-departments included
    tag:<name>      a tag name
    group:<value>   a value of the groups claim as configured (prefixes included)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from ..config import GroupsSettings
from ..identity import Identity

log = logging.getLogger(__name__)


def groups_claim(identity: Identity, s: GroupsSettings) -> list[str]:
    """The flat, filtered, capped groups list."""
    found = list(dict.fromkeys([*_departments(identity, s), *_tags(identity, s)]))
    include = [re.compile(p) for p in s.include]
    exclude = [re.compile(p) for p in s.exclude]
    kept = [g for g in found if (not include or any(p.search(g) for p in include))
            and not any(p.search(g) for p in exclude)]
    if len(kept) > s.max:
        log.info("groups capped sub=%s groups=%d max=%d", identity.subject, len(kept), s.max)
    return kept[:s.max]


def _departments(identity: Identity, s: GroupsSettings) -> Iterable[str]:
    if s.departments == "none":
        return
    for path in _paths_main_first(identity):
        chain = [path[:i] for i in range(len(path), 0, -1)] if s.parents else [path]
        for p in chain:
            if s.departments in ("path", "both"):
                yield s.prefix_department + "/".join(p)
            if s.departments in ("name", "both"):
                yield s.prefix_department + p[-1]


def _tags(identity: Identity, s: GroupsSettings) -> Iterable[str]:
    if s.tags:
        for tag in sorted(identity.tags):
            yield s.prefix_tag + tag


def _paths_main_first(identity: Identity) -> list[tuple[str, ...]]:
    pairs = list(zip(identity.departments, identity.department_paths, strict=False))
    pairs.sort(key=lambda pair: pair[0] != identity.main_department)  # stable
    return [path for _, path in pairs if path]


def department_path(identity: Identity, dept: int | None) -> str:
    """A department's path ("研发中心/平台部"), or its id when the directory is unknown."""
    if dept is None:
        return ""
    for d, path in zip(identity.departments, identity.department_paths, strict=False):
        if d == dept and path:
            return "/".join(path)
    return str(dept)


def in_department(identity: Identity, spec: str) -> bool:
    """Member of department `spec` (an id or a path) or of one of its sub-departments."""
    spec = spec.strip().strip("/")
    if spec.isdigit():
        return int(spec) in identity.department_lineage or int(spec) in identity.departments
    for path in identity.department_paths:
        joined = "/".join(path)
        if joined == spec or joined.startswith(spec + "/"):
            return True
    return False


def matches(identity: Identity, selector: str, groups: list[str]) -> bool:
    """Does the person match one selector (see the module docstring)?"""
    kind, _, value = selector.partition(":")
    if kind == "user":
        return identity.subject.lower() == value.lower()
    if kind == "dept":
        return in_department(identity, value)
    if kind == "tag":
        return value in identity.tags
    if kind == "group":
        return value in groups
    return False
