"""Client secrets kept as hashes (`client_secret_hash`), so the config file alone does
not give a client's secret away. Made by `wecom-oidc hash-secret`.

Two formats:

    sha256$<salt>$<digest>                      the default
    pbkdf2-sha256$<iterations>$<salt>$<digest>  for secrets a person chose

(salt and digest base64url without padding). Why a fast hash is the default: a client
secret the bridge accepts is at least 32 random characters (about 190 bits from
`hash-secret --generate`), which no amount of hashing speed lets anyone search; a slow
KDF protects only guessable secrets, and would make every token request cost
~0.1 s of CPU that anyone can trigger with a wrong secret (a denial-of-service
lever). So: salted SHA-256 for random secrets, and PBKDF2 (600,000 iterations,
OWASP 2023) only where allow_short_secret admits a guessable one; its result is
remembered per process for the secret that passed (see Verifier), so only failed
guesses pay for it, and those are rate limited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass

SHA256 = "sha256"
PBKDF2 = "pbkdf2-sha256"
PBKDF2_ITERATIONS = 600_000
MIN_ITERATIONS = 100_000
SALT_BYTES = 16
MIN_SECRET_LENGTH = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SecretHash:
    scheme: str
    salt: bytes
    digest: bytes
    iterations: int = 0

    @property
    def slow(self) -> bool:
        return self.scheme == PBKDF2

    def compute(self, secret: str) -> bytes:
        if self.scheme == PBKDF2:
            return hashlib.pbkdf2_hmac("sha256", secret.encode(), self.salt, self.iterations)
        return hashlib.sha256(self.salt + secret.encode()).digest()

    def matches(self, secret: str) -> bool:
        """Constant time in the secret's content."""
        return hmac.compare_digest(self.compute(secret), self.digest)

    def __str__(self) -> str:
        middle = f"{self.iterations}$" if self.scheme == PBKDF2 else ""
        return f"{self.scheme}${middle}{_b64(self.salt)}${_b64(self.digest)}"


def hash_secret(secret: str, scheme: str = SHA256,
                iterations: int = PBKDF2_ITERATIONS) -> str:
    """The client_secret_hash value for `secret`, with a fresh random salt."""
    salt = os.urandom(SALT_BYTES)
    shape = SecretHash(scheme, salt, b"", iterations if scheme == PBKDF2 else 0)
    if scheme not in (SHA256, PBKDF2):
        raise ValueError(f"unknown scheme {scheme!r}: use {SHA256} or {PBKDF2}")
    return str(SecretHash(scheme, salt, shape.compute(secret), shape.iterations))


def parse_secret_hash(text: str) -> SecretHash:
    """ValueError with what is wrong (no part of the value is repeated in it)."""
    parts = text.strip().split("$")
    try:
        if parts[0] == SHA256 and len(parts) == 3:
            found = SecretHash(SHA256, _unb64(parts[1]), _unb64(parts[2]))
        elif parts[0] == PBKDF2 and len(parts) == 4 and parts[1].isdigit():
            found = SecretHash(PBKDF2, _unb64(parts[2]), _unb64(parts[3]), int(parts[1]))
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f'must be "{SHA256}$<salt>$<digest>" or "{PBKDF2}$<iterations>$'
                         '<salt>$<digest>", as `wecom-oidc hash-secret` prints') from None
    if len(found.salt) < 8 or len(found.digest) != 32:
        raise ValueError("salt or digest has the wrong length: paste the whole value "
                         "`wecom-oidc hash-secret` printed")
    if found.slow and found.iterations < MIN_ITERATIONS:
        raise ValueError(f"{PBKDF2} needs at least {MIN_ITERATIONS} iterations")
    return found


class Verifier:
    """Checks presented secrets against one hash. A slow hash's verdict for the secret
    that passed is remembered in this process as an HMAC under a random per-process
    key: the right secret costs one KDF per process, a wrong one always pays in full
    (and is rate limited), and nothing reusable is kept in memory."""

    def __init__(self, secret_hash: SecretHash):
        self._hash = secret_hash
        self._key = os.urandom(32)
        self._passed: bytes | None = None
        self._lock = threading.Lock()

    def __call__(self, secret: str) -> bool:
        if not self._hash.slow:
            return self._hash.matches(secret)
        tag = hmac.new(self._key, secret.encode(), hashlib.sha256).digest()
        passed = self._passed
        if passed is not None and hmac.compare_digest(tag, passed):
            return True
        if not self._hash.matches(secret):
            return False
        with self._lock:
            self._passed = tag
        return True
