"""Where a SQLite file lives: refused on a network filesystem.

SQLite's locking relies on POSIX advisory locks, which NFS, SMB/CIFS and most FUSE
network mounts implement loosely or not at all: several hosts (or containers on
several hosts) writing one file there corrupt it or lose writes silently
(sqlite.org/useovernet.html). Linux names each mount's type in /proc/mounts.
"""

from __future__ import annotations

import os

from ..errors import ConfigError

NETWORK_FSTYPES = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "lustre",
    "gpfs", "beegfs", "ocfs2", "gfs2", "fuse.sshfs", "fuse.glusterfs", "fuse.cephfs",
    "fuse.s3fs", "fuse.rclone", "fuse.juicefs", "fuse.gcsfuse", "davfs", "fuse.davfs2",
})
MOUNTS = "/proc/mounts"


def fstype_of(path: str, mounts_text: str) -> str:
    """The type of the mount holding `path` (absolute), from /proc/mounts' text."""
    best, kind = "", ""
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        # /proc/mounts escapes spaces and the like as octal (\\040).
        point = fields[1].encode().decode("unicode_escape")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def refuse_network_filesystem(db_path: str, mounts: str = MOUNTS) -> None:
    """ConfigError when the database's folder is on a network filesystem."""
    try:
        with open(mounts, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return  # not Linux (or no /proc): nothing to detect with
    folder = os.path.realpath(os.path.dirname(os.path.abspath(db_path)) or ".")
    kind = fstype_of(folder, text)
    if kind in NETWORK_FSTYPES or kind.startswith("nfs"):
        raise ConfigError([
            f"store.url: {db_path} is on a {kind} network filesystem. SQLite's file locks "
            "do not hold there, so several hosts sharing the file lose or corrupt data. "
            "Put the database on a local disk (one host), or use a Redis store "
            "(redis://...) to share state between hosts"])
