"""JWTs the bridge signs and reads back: RFC 9068 access tokens, back-channel
logout tokens, and its own ID tokens when they come back as id_token_hint."""

from __future__ import annotations

import binascii
import json
import secrets
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .keys import ALGS, SIGNING_ALG, KeyRing

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def json_encoder(*, sort_keys: bool = False, ensure_ascii: bool = True,
                 separators: tuple[str, str] = (", ", ": ")) -> Callable[[Any], str]:
    """`json.dumps` with these options, as one function kept for the process: dumps
    (JSONEncoder.encode) builds its C encoder again on every call, about a quarter of
    the cost of encoding a token's claims. No circular-reference check: what we encode
    (claims, token responses) is plain JSON data, and the encoder then holds no state
    that threads could share."""
    encoder = json.JSONEncoder(sort_keys=sort_keys, ensure_ascii=ensure_ascii,
                               separators=separators, check_circular=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the encoder's own method
        return encoder.encode
    c_encoder = make(None, encoder.default, json.encoder.encode_basestring_ascii
                     if ensure_ascii else json.encoder.encode_basestring,
                     None, separators[1], separators[0], sort_keys, False, True)
    return lambda value: "".join(c_encoder(value, 0))


_CLAIMS_JSON = json_encoder(ensure_ascii=False, separators=(",", ":"))


class Jwts:
    """Sign with the key ring, verify against every published key (old ones too).

    Compact JWS (RFC 7515) over `cryptography` directly: the header of each
    (alg, typ) is encoded once, and a token already verified is not verified again
    (a bounded per-process memo of the exact token text; expiry, issuer and type
    are still checked on every use). joserfc decides whatever is not one of our
    own keys' tokens, so what verifies is exactly what it accepts."""

    MEMO_SIZE = 1024

    def __init__(self, keys: KeyRing, issuer: str, clock: Callable[[], float]):
        self.keys, self.issuer, self.clock = keys, issuer, clock
        self._keyset = KeySet([f.key for f in keys.files])
        self._by_kid = {f.kid: (f.alg, f.key.get_op_key("verify")) for f in keys.files}
        # The signing key of each algorithm, as `cryptography` objects.
        self._signers = {alg: keys.signer(alg)[0].get_op_key("sign") for alg in keys.algs}
        self._headers: dict[tuple[str, str], bytes] = {}
        self._verified: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}

    def encode(self, claims: dict[str, Any], *, typ: str = "JWT", alg: str = SIGNING_ALG) -> str:
        header = self._headers.get((alg, typ))
        if header is None:
            header = self._headers[alg, typ] = b64url(json.dumps(
                {"alg": alg, "kid": self.keys.signer(alg)[1], "typ": typ},
                separators=(",", ":")).encode())
        payload = b64url(_CLAIMS_JSON(claims).encode())
        signing_input = header + b"." + payload
        signature = _sign(alg, self._signers[alg], signing_input)
        return (signing_input + b"." + b64url(signature)).decode("ascii")

    def decode(self, token: str, *, typ: str | None = None, check_exp: bool = True
               ) -> dict[str, Any] | None:
        """The claims of a token this issuer signed, or None (bad signature, foreign
        issuer, wrong type, expired unless `check_exp` is off)."""
        found = self._verified.get(token)
        if found is None:
            found = self._verify(token)
            if found is None:
                return None
            self._remember(token, *found)
        header, claims = found
        if claims.get("iss") != self.issuer:
            return None
        if typ is not None and header.get("typ", "").lower() != typ:
            return None
        if check_exp and not int(claims.get("exp", 0)) > self.clock():
            return None
        return dict(claims)

    def _remember(self, token: str, header: dict[str, Any], claims: dict[str, Any]) -> None:
        if len(self._verified) >= self.MEMO_SIZE:
            self._verified.clear()
        self._verified[token] = (header, claims)

    def _verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(header, claims) of a token whose signature one of our keys verifies."""
        try:
            head, payload, signature = token.split(".")
            header = json.loads(_unb64(head))
            kid = header.get("kid") if isinstance(header, dict) else None
            known = self._by_kid.get(kid) if isinstance(kid, str) else None
            if known is None or header.get("alg") != known[0]:
                return self._verify_joserfc(token)  # not one of ours: as joserfc decides
            if not _verify(known[0], known[1], (head + "." + payload).encode("ascii"),
                           _unb64(signature)):
                return None
            claims = json.loads(_unb64(payload))
        except (ValueError, TypeError, UnicodeError):
            return None
        return (header, claims) if isinstance(claims, dict) else None

    def _verify_joserfc(self, token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        try:
            parsed = jwt.decode(token, self._keyset, algorithms=list(ALGS))
        except (JoseError, ValueError, TypeError):
            return None
        return parsed.header, parsed.claims

    def access_token(self, *, client_id: str, sub: str, scope: str, auth_time: int,
                     ttl: int) -> tuple[str, str]:
        """An RFC 9068 access token, so resource servers can verify it locally.
        Returns (token, jti); the store keeps the record under the jti."""
        now = int(self.clock())
        jti = secrets.token_urlsafe(16)
        claims = {"iss": self.issuer, "sub": sub, "aud": client_id, "client_id": client_id,
                  "scope": scope, "iat": now, "exp": now + ttl, "auth_time": auth_time,
                  "jti": jti}
        token = self.encode(claims, typ="at+jwt")
        # Signed here, so known good: its first use at /userinfo (often in this
        # process, right after the token response) needs no signature check either.
        self._remember(token, {"alg": SIGNING_ALG, "kid": self.keys.kid, "typ": "at+jwt"},
                       claims)
        return token, jti

    def issued_jti(self, token: str) -> str | None:
        """The jti of an access token this process signed a moment ago, or None."""
        found = self._verified.get(token)
        return found[1].get("jti") if found is not None else None

    def logout_token(self, *, client_id: str, sub: str, sid: str) -> str:
        """OIDC Back-Channel Logout 1.0 §2.4."""
        now = int(self.clock())
        claims = {"iss": self.issuer, "sub": sub, "aud": client_id, "iat": now,
                  "exp": now + 120, "jti": secrets.token_urlsafe(16), "sid": sid,
                  "events": {BACKCHANNEL_EVENT: {}}}
        return self.encode(claims, typ="logout+jwt")


# base64url as the base64 module's urlsafe_* functions compute it, without their
# argument checks and wrappers (two calls each, every token signed or read).
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def b64url(data: bytes) -> bytes:
    """Unpadded base64url (RFC 7515 §2)."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


def _unb64(text: str) -> bytes:
    """Lenient like base64.urlsafe_b64decode; ValueError for text that is not ASCII."""
    return binascii.a2b_base64((text + "=" * (-len(text) % 4)).encode("ascii")
                               .translate(_FROM_URLSAFE))


_SHA256 = hashes.SHA256()
_PKCS1 = padding.PKCS1v15()
_ECDSA = ec.ECDSA(_SHA256)


def _sign(alg: str, private: Any, data: bytes) -> bytes:
    """RS256: RSASSA-PKCS1-v1_5 with SHA-256; ES256: ECDSA P-256 with SHA-256, as
    the 64 bytes r || s (RFC 7518 §3.4), not DER."""
    if alg == "RS256":
        return bytes(private.sign(data, _PKCS1, _SHA256))
    r, s = decode_dss_signature(private.sign(data, _ECDSA))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _verify(alg: str, public: Any, data: bytes, signature: bytes) -> bool:
    try:
        if alg == "RS256":
            public.verify(signature, data, _PKCS1, _SHA256)
        else:
            if len(signature) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                       int.from_bytes(signature[32:], "big"))
            public.verify(der, data, _ECDSA)
    except InvalidSignature:
        return False
    return True
