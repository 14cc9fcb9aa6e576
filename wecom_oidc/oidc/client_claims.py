"""What one client gets beyond the standard claims, and whether the person may
use it at all: the access policy, the `groups` claim, extra claims mapped from
directory fields, and a role computed from groups.

`for_client` is applied whenever a person is bound to a client: when a code is
issued (after a WeCom login or from the bridge session) and at every refresh, so
a member who left an allowed department loses access at the next refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..config import ClientSettings, GroupsSettings, Settings
from ..errors import DirectoryUnavailable, PolicyDenied
from ..identity import Identity
from .claims import STANDARD_CLAIMS
from .groups import department_path, groups_claim, in_department, matches
from .models import User
from .names import split_name

log = logging.getLogger(__name__)

# Places an unplaced Identity in the upstream directory (Upstream.place); raises
# DirectoryUnavailable when the directory cannot be read.
Place = Callable[[Identity], Identity]

# Extra-claim sources that need the department tree or tags (the others come from user/get).
_DIRECTORY_SOURCES = frozenset({"main_department", "main_department_name", "departments",
                                "tags", "groups", "leader_of"})


def for_client(settings: Settings, user: User, client_id: str, scope: str,
               place: Place | None = None) -> User:
    """`user` with this client's claims (the standard ones kept, recomputed from the
    identity, so calling it twice changes nothing). Raises PolicyDenied
    (reason "policy") when the client's access policy leaves the person out, and
    DirectoryUnavailable when the policy or roles need a directory that cannot be
    read (fail closed); claims that only show groups go without it."""
    client = settings.client(client_id)
    if client is None:
        return user
    identity = Identity.from_record(user.identity) if user.identity else Identity(user.sub)
    shows_groups = client.groups == "always" or (client.groups == "scope"
                                                 and "groups" in scope.split())
    if identity.unplaced and place is not None:
        identity = _placed(identity, client, settings.groups, shows_groups, place)
    check_access(client, identity)
    groups = groups_claim(identity, settings.groups)
    claims = {k: v for k, v in user.claims.items() if k in STANDARD_CLAIMS}
    if shows_groups:
        claims["groups"] = groups
    for name, source in client.extra_claims:
        value = claim_source(identity, source, groups)
        if value is not None and value != "":
            claims[name] = value
    role = role_for(identity, client, groups)
    if role:
        claims[client.role_claim] = role
    return replace(user, claims=claims)


def _placed(identity: Identity, client: ClientSettings, groups: GroupsSettings,
            shows_groups: bool, place: Place) -> Identity:
    """The identity placed in the directory when this client uses departments or
    tags; unplaced (what user/get said) for a client that only shows them and the
    directory is down; DirectoryUnavailable for one whose access depends on them."""
    gates = gated_by_directory(client, identity)
    shows = (shows_groups and (groups.departments != "none" or groups.tags)) or any(
        source in _DIRECTORY_SOURCES for _, source in client.extra_claims)
    if not gates and not shows:
        return identity  # this login needs no directory read at all
    try:
        return place(identity)
    except DirectoryUnavailable as e:
        if gates:
            log.warning("directory unavailable: refused client=%s sub=%s (its access policy "
                        "or roles need departments/tags) detail=%s", client.client_id,
                        identity.subject, e.detail)
            raise DirectoryUnavailable(
                f"client={client.client_id}: {e.detail}", code=e.code,
                hint=f"Client {client.client_id!r} has an access policy or roles on "
                     f"departments or tags, which need the WeCom directory. {e.hint}") from None
        log.warning("directory unavailable: client=%s sub=%s gets no department paths or "
                    "tags this time detail=%s", client.client_id, identity.subject, e.detail)
        return identity


def gated_by_directory(client: ClientSettings, identity: Identity) -> bool:
    """Does deciding whether (or as what role) this person may use the client need
    departments or tags? Not for someone listed in allow_users, unless roles do."""
    roles = any(s.partition(":")[0] in ("dept", "tag", "group")
                for _, selectors in client.roles for s in selectors)
    if roles:
        return True
    if not (client.allow_departments or client.allow_tags):
        return False
    who = identity.subject.lower()
    return not any(u.lower() == who for u in client.allow_users)


def check_access(client: ClientSettings, identity: Identity) -> None:
    """Everyone, unless the client lists users, departments (sub-departments
    included) or tags; then only people matching one of them."""
    if not client.restricted:
        return
    who = identity.subject.lower()
    if any(u.lower() == who for u in client.allow_users):
        return
    if any(in_department(identity, d) for d in client.allow_departments):
        return
    if any(t in identity.tags for t in client.allow_tags):
        return
    raise PolicyDenied(
        "policy",
        f"policy client={client.client_id} sub={identity.subject}: not in allow_users, "
        f"allow_departments or allow_tags",
        hint=f"The bridge's access policy for client {client.client_id!r} (allow_users, "
             "allow_departments, allow_tags) does not include this member.")


def role_for(identity: Identity, client: ClientSettings, groups: list[str]) -> str:
    """The first role (in config order) with a matching selector, else the default."""
    for role, selectors in client.roles:
        if any(matches(identity, s, groups) for s in selectors):
            return role
    return client.role_default


def claim_source(identity: Identity, source: str, groups: list[str]) -> Any:
    """The value of one extra-claim source (config.EXTRA_CLAIM_SOURCES), or None."""
    direct = {
        "userid": identity.subject, "name": identity.name, "alias": identity.alias,
        "position": identity.position, "email": identity.email,
        "biz_mail": identity.biz_mail, "phone": identity.phone, "gender": identity.gender,
        "picture": identity.picture,
    }
    if source in direct:
        return direct[source]
    if source in ("family_name", "given_name"):
        if not identity.name:
            return None
        family, given = split_name(identity.name)
        return family if source == "family_name" else given
    main = identity.main_department
    if source == "main_department":
        return department_path(identity, main) or None
    if source == "main_department_name":
        return department_path(identity, main).rsplit("/", 1)[-1] or None
    if source == "main_department_id":
        return main
    if source == "departments":
        return [department_path(identity, d) for d in identity.departments]
    if source == "department_ids":
        return list(identity.departments)
    if source == "tags":
        return list(identity.tags)
    if source == "groups":
        return groups
    if source == "leader_of":
        return [department_path(identity, d) for d in identity.attributes.get("leader_of", [])]
    return identity.attributes.get(source)
