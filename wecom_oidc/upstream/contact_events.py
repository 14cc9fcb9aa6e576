"""What a WeCom contact-change callback means for the bridge (D90970, D90240).

- delete_user, unsubscribe (left the app's visible range or the corp), update_user
  with Status 2 (disabled) or 5 (departed): revoke everything the member holds.
- update_user without a status (contacts-sync URLs set after 2022-08-15 carry only
  UserID/Department, wecom-callbacks.md A5): ask WeCom (user/get) and revoke if the
  member may no longer sign in.
- department/tag changes (create/update/delete_party, update_tag, a member moved):
  re-read the cached directory and forget the members' last re-check, so groups,
  roles and access policies follow at the next refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..errors import UpstreamError
from .directory import DirectoryCache
from .wecom import WecomUpstream

log = logging.getLogger(__name__)

Revoke = Callable[[str, str], Any]  # (userid, reason)
_STATUS_GONE = {"2": "disabled", "5": "departed"}
_PARTY = ("create_party", "update_party", "delete_party")


class ContactEvents:
    def __init__(self, upstream: WecomUpstream, revoke: Revoke,
                 forget_check: Callable[[str], None],
                 directory: DirectoryCache | None = None):
        self.upstream, self.revoke, self.forget_check = upstream, revoke, forget_check
        self.directory = directory

    @staticmethod
    def name(event: dict[str, str]) -> str:
        """A short name for logs and metrics: change_contact:delete_user, unsubscribe..."""
        kind = event.get("Event", "") or event.get("InfoType", "") or "unknown"
        change = event.get("ChangeType", "")
        name = f"{kind}:{change}" if change else kind
        return name if name.replace(":", "").replace("_", "").isalnum() else "unknown"

    def handle(self, event: dict[str, str]) -> None:
        kind, change = event.get("Event", ""), event.get("ChangeType", "")
        if kind == "unsubscribe" and event.get("FromUserName"):
            self.revoke(event["FromUserName"], "unsubscribe")
        elif kind != "change_contact":
            return
        elif change == "delete_user" and event.get("UserID"):
            self.revoke(event["UserID"], "delete_user")
        elif change == "update_user" and event.get("UserID"):
            self._updated(event)
        elif change in _PARTY or change == "update_tag":
            for items in ("AddUserItems", "DelUserItems"):
                for userid in filter(None, event.get(items, "").split(",")):
                    self.forget_check(userid)
            self._refresh_directory()

    def _updated(self, event: dict[str, str]) -> None:
        userid = event["UserID"]
        self.forget_check(userid)
        gone = _STATUS_GONE.get(event.get("Status", ""))
        if gone is None and not event.get("Status"):
            try:
                gone = self.upstream.member_gone(userid)
            except UpstreamError as e:
                # The sweep will ask again; an unanswered question never revokes.
                log.warning("wecom event update_user: re-check of %s failed: %s", userid,
                            e.detail)
        if gone:
            self.revoke(userid, gone)
        if event.get("Department"):
            self._refresh_directory()

    def _refresh_directory(self) -> None:
        if self.directory is not None:
            self.directory.refresh()
