"""Redis store URLs -> what to connect to. Pure parsing, no connection.

    redis://[[user]:password@]host[:6379][/db]     plain TCP
    rediss://...                                   TLS
    unix://[[user]:password@]/path/redis.sock[?db=N]
    redis+sentinel://[[user]:password@]host[:26379][,host2[:26379]...]/service[/db]
    redis+cluster://[[user]:password@]host[:6379][,host2[:6379]...][/]
    (rediss+sentinel, rediss+cluster: the same over TLS)

The credentials are the data node's (master / cluster nodes); Sentinels are reached
without a password. Query `key_prefix=` (default "wecom-oidc:") namespaces the keys, so
two deployments (or test runs) can share one database; other query parameters of a
redis:// URL go to redis-py unchanged (e.g. `?socket_timeout=5`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel",
           "redis+cluster", "rediss+cluster")
DEFAULT_PREFIX = "wecom-oidc:"
FORMS = ("redis://host:6379/0, rediss://..., redis+sentinel://host:26379,host2:26379/"
         "service/0 or redis+cluster://host:6379,host2:6379")


@dataclass(frozen=True)
class RedisTarget:
    mode: str  # "single", "sentinel" or "cluster"
    url: str = ""  # single: the URL redis-py gets (our own query keys removed)
    hosts: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    ssl: bool = False
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    prefix: str = DEFAULT_PREFIX


def is_redis_url(url: str) -> bool:
    return isinstance(url, str) and urlsplit(url).scheme.lower() in SCHEMES


def parse_redis_url(url: str) -> RedisTarget:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(f"not a Redis store url; use {FORMS}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((v for k, v in query if k == "key_prefix"), DEFAULT_PREFIX)
    if not prefix:
        raise ValueError("store url: key_prefix must not be empty")
    rest = [(k, v) for k, v in query if k != "key_prefix"]
    base, _, mode = scheme.partition("+")
    if not mode:
        if not parts.hostname and scheme != "unix":
            raise ValueError(f"store url: no Redis host; use {FORMS}")
        plain = urlunsplit(parts._replace(query=urlencode(rest)))
        return RedisTarget("single", url=plain, prefix=prefix)
    if rest:
        raise ValueError(f"store url: {scheme} takes no query parameters but key_prefix")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    default_port = 26379 if mode == "sentinel" else 6379
    hosts = tuple(_host_port(h, default_port) for h in hostlist.split(","))
    segments = [unquote(s) for s in parts.path.split("/") if s]
    service, db = "", 0
    if mode == "sentinel":
        if not segments or len(segments) > 2:
            raise ValueError("store url: write redis+sentinel://host:26379,.../SERVICE[/DB] "
                             "(SERVICE is the master name the Sentinels monitor)")
        service = segments[0]
        db = _db(segments[1]) if len(segments) == 2 else 0
    elif segments and segments != ["0"]:
        raise ValueError("store url: Redis Cluster has only database 0; drop the path")
    return RedisTarget(mode, hosts=hosts, service=service, db=db, ssl=base == "rediss",
                       credentials=_credentials(userinfo), prefix=prefix)


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):  # [IPv6]:port
        host, _, port = text[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host:
        raise ValueError(f"store url: empty host in {text!r}")
    try:
        number = int(port) if port else default_port
    except ValueError:
        raise ValueError(f"store url: bad port in {text!r}") from None
    if not 0 < number < 65536:
        raise ValueError(f"store url: bad port in {text!r}")
    return host, number


def _db(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"store url: database must be a number, got {text!r}")
    return int(text)


def _credentials(userinfo: str) -> dict[str, str]:
    if not userinfo:
        return {}
    user, has_password, password = userinfo.partition(":")
    creds = {}
    if user:
        creds["username"] = unquote(user)
    if has_password and password:
        creds["password"] = unquote(password)
    return creds
