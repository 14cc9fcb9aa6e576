"""Signing keys: RSA PEM files in one folder, loaded once. The newest signs; every
key in the folder is published in the JWKS, so tokens signed before a rotation
still verify. kid = RFC 7638 thumbprint."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from typing import Any

from joserfc.jwk import RSAKey

from ..errors import ConfigError

log = logging.getLogger(__name__)

SIGNING_ALG = "RS256"


class KeyRing:
    """The loaded keys. `signing_key`/`kid` sign; `public_jwks()` is what /jwks.json serves."""

    def __init__(self, keys: list[RSAKey]):
        if not keys:
            raise ConfigError(["keys: no signing key found"])
        self.keys = keys
        self.signing_key = keys[-1]
        self.kid = self.signing_key.thumbprint()
        self._jwks = {"keys": [
            {**k.as_dict(private=False), "kid": k.thumbprint(), "use": "sig", "alg": SIGNING_ALG}
            for k in reversed(keys)
        ]}

    def public_jwks(self) -> dict[str, Any]:
        return self._jwks

    def public_key(self, kid: str) -> RSAKey | None:
        for k in self.keys:
            if k.thumbprint() == kid:
                return k
        return None

    @classmethod
    def load(cls, directory: str | Path, *, create: bool = True) -> KeyRing:
        """Load every *.pem in `directory` (oldest first by file name). With
        `create`, generate one first if there is none, guarded by a file lock so
        two workers starting together do not both generate."""
        path = Path(directory)
        if create:
            ensure_key(path)
        files = sorted(path.glob("*.pem"))
        problems, keys = [], []
        for f in files:
            try:
                keys.append(RSAKey.import_key(f.read_bytes()))
            except (OSError, ValueError) as e:
                problems.append(f"keys.dir: {f.name}: not a readable RSA private key ({e})")
        if problems:
            raise ConfigError(problems)
        if not keys:
            raise ConfigError([f"keys.dir: no *.pem key in {path}; run `wecom-oidc keys "
                               "generate`"])
        return cls(keys)


def ensure_key(directory: Path) -> Path | None:
    """Generate a key when the folder has none. Returns the new file, if any."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(directory / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if any(directory.glob("*.pem")):
            return None
        return generate_key(directory)


def generate_key(directory: Path, bits: int = 2048) -> Path:
    """Write a new RSA key, readable by its owner only (0600). It becomes the
    signing key, since file names sort by creation time."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = RSAKey.generate_key(bits, private=True)
    name = f"{time.time_ns():020d}-{key.thumbprint()[:12]}.pem"
    target = directory / name
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.as_pem(private=True))
    log.info("generated signing key kid=%s file=%s", key.thumbprint(), name)
    return target
