"""Signing keys: PEM files in one folder, loaded once. For each algorithm the newest
key signs; every key in the folder is published in the JWKS, so tokens signed before
a rotation still verify. kid = RFC 7638 thumbprint. RSA keys sign RS256 (the default
every relying party supports); EC P-256 keys sign ES256 for clients that ask for it."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc.jwk import ECKey, RSAKey

from ..errors import ConfigError

log = logging.getLogger(__name__)

SIGNING_ALG = "RS256"
ALGS = ("RS256", "ES256")
Key = RSAKey | ECKey


@dataclass(frozen=True)
class KeyFile:
    path: Path
    key: Key
    alg: str
    created_ns: int  # from the file name, which sorts by creation time

    @property
    def kid(self) -> str:
        return self.key.thumbprint()


class KeyRing:
    """The loaded keys: `signer(alg)` signs; `public_jwks()` is what /jwks.json serves."""

    def __init__(self, files: list[KeyFile]):
        if not any(f.alg == SIGNING_ALG for f in files):
            raise ConfigError(["keys: no RSA signing key found"])
        self.files = sorted(files, key=lambda f: f.created_ns)
        self._signers = {f.alg: (f.key, f.kid) for f in self.files}  # the newest wins
        self._by_kid = {f.kid: f.key for f in self.files}
        self.signing_key, self.kid = self._signers[SIGNING_ALG]
        self._jwks = {"keys": [
            {**f.key.as_dict(private=False), "kid": f.kid, "use": "sig", "alg": f.alg}
            for f in reversed(self.files)
        ]}

    @property
    def algs(self) -> list[str]:
        """The algorithms this ring can sign with, RS256 first."""
        return [a for a in ALGS if a in self._signers]

    def signer(self, alg: str = SIGNING_ALG) -> tuple[Key, str]:
        """(key, kid) of the newest key for `alg`."""
        return self._signers[alg]

    def public_jwks(self) -> dict[str, Any]:
        return self._jwks

    def public_key(self, kid: str) -> Key | None:
        return self._by_kid.get(kid)

    @classmethod
    def load(cls, directory: str | Path, *, create: bool = True,
             algs: tuple[str, ...] = (SIGNING_ALG,)) -> KeyRing:
        """Load every *.pem in `directory`. With `create`, first generate a key for
        each of `algs` that has none, under a file lock so two workers starting
        together do not both generate."""
        path = Path(directory)
        if create:
            ensure_keys(path, algs)
        files, problems = read_keys(path)
        if problems:
            raise ConfigError(problems)
        missing = [a for a in algs if not any(f.alg == a for f in files)]
        if missing and not create:
            # Replicas sharing a store (Redis) must sign with the same keys: a replica
            # that made its own would issue tokens the others' JWKS does not publish.
            raise ConfigError([
                f"keys.dir: no {'/'.join(missing)} key in {path}, and this bridge does not "
                "generate one because its store is shared with other replicas (Redis); run "
                f"`wecom-oidc keys generate --dir {path}` once, into the keys folder every "
                "replica mounts, then start the replicas"])
        if missing:
            raise ConfigError([f"keys.dir: no {'/'.join(missing)} key in {path}; run "
                               "`wecom-oidc keys generate`"])
        return cls(files)


def read_keys(directory: Path) -> tuple[list[KeyFile], list[str]]:
    files, problems = [], []
    for f in sorted(directory.glob("*.pem")):
        try:
            files.append(_read(f))
        except (OSError, ValueError, TypeError) as e:
            problems.append(f"keys.dir: {f.name}: not a readable RSA or EC P-256 private key "
                            f"({e})")
    return files, problems


def _read(path: Path) -> KeyFile:
    pem = path.read_bytes()
    raw = load_pem_private_key(pem, password=None)
    if isinstance(raw, rsa.RSAPrivateKey):
        key: Key = RSAKey.import_key(pem)
        alg = "RS256"
    elif isinstance(raw, ec.EllipticCurvePrivateKey) and raw.curve.name == "secp256r1":
        key, alg = ECKey.import_key(pem), "ES256"
    else:
        raise ValueError("unsupported key type")
    prefix = path.name.split("-", 1)[0]
    created = int(prefix) if prefix.isdigit() else int(path.stat().st_mtime * 1e9)
    return KeyFile(path, key, alg, created)


def ensure_keys(directory: Path, algs: tuple[str, ...] = (SIGNING_ALG,)) -> list[Path]:
    """Generate a key for each alg the folder has none of. Returns the new files.
    Touches nothing when every key exists, so a read-only keys mount works."""
    if directory.is_dir() and all(a in {f.alg for f in read_keys(directory)[0]} for a in algs):
        return []
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(directory / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        have = {f.alg for f in read_keys(directory)[0]}
        return [generate_key(directory, alg) for alg in algs if alg not in have]


def ensure_key(directory: Path) -> Path | None:
    """Generate an RSA key when the folder has none. Returns the new file, if any."""
    new = ensure_keys(directory)
    return new[0] if new else None


def generate_key(directory: Path, alg: str = SIGNING_ALG, bits: int = 2048) -> Path:
    """Write a new key, readable by its owner only (0600). It becomes the signer for
    its algorithm, since file names sort by creation time."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key: Key = (RSAKey.generate_key(bits, private=True) if alg == "RS256"
                else ECKey.generate_key("P-256", private=True))
    name = f"{time.time_ns():020d}-{key.thumbprint()[:12]}.pem"
    target = directory / name
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.as_pem(private=True))
    log.info("generated %s signing key kid=%s file=%s", alg, key.thumbprint(), name)
    return target


def prunable(directory: Path, max_token_lifetime: int, now_ns: int | None = None) -> list[Path]:
    """Keys no longer needed: replaced by a newer key of the same algorithm longer
    ago than any token lives, so nothing they signed can still be valid."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    files, _ = read_keys(directory)
    out = []
    for alg in ALGS:
        same = sorted((f for f in files if f.alg == alg), key=lambda f: f.created_ns)
        for old, successor in zip(same, same[1:], strict=False):
            if now_ns - successor.created_ns > max_token_lifetime * 1_000_000_000:
                out.append(old.path)
    return out
