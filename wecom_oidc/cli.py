"""The `wecom-oidc` command: serve, check-config, doctor, keys, emulator, demo, login."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from .config import ENV_PREFIX, Settings, load_settings
from .errors import ConfigError

CONFIG_HELP = "TOML config file (default: $WECOM_OIDC_CONFIG)"
EXIT_CODES = """exit codes:
  0    done (doctor: every check passed)
  1    the command ran and something failed (doctor found problems, login failed,
       the demo's bridge stopped)
  2    bad usage or a config that does not load (every problem is printed)
  130  interrupted (Ctrl-C)"""


def build_parser() -> argparse.ArgumentParser:
    """The command line; `--config` goes before or after the subcommand."""
    parser = argparse.ArgumentParser(
        prog="wecom-oidc", description=__doc__, epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the bridge (Granian, threaded workers)")
    serve.add_argument("--bind", help="host:port (default: [server] bind)")
    serve.add_argument("--workers", type=int, help="worker processes")
    serve.add_argument("--threads", type=int, help="threads per worker")
    serve.add_argument("--graceful-timeout", type=int,
                       help="seconds to finish requests after SIGTERM ([server] graceful_timeout)")

    sub.add_parser("check-config", help="validate the config and print every problem")
    hashing = sub.add_parser(
        "hash-secret", help="print a client_secret_hash for a client secret read from stdin",
        description="Reads a client secret from standard input (never from the command "
                    "line, where `ps` would show it) and prints the [[clients]] line "
                    "`client_secret_hash = \"...\"`.")
    hashing.add_argument("--generate", action="store_true",
                         help="make a new random secret (256 bits), print it once and its hash")
    hashing.add_argument("--pbkdf2", action="store_true",
                         help="PBKDF2-SHA256 instead of salted SHA-256 (for a secret a person "
                              "chose; the default fast hash suits random secrets)")
    hashing.add_argument("--allow-short", action="store_true",
                         help="accept a secret under 32 characters (then PBKDF2 is used; set "
                              "allow_short_secret = true for the client)")
    doctor = sub.add_parser("doctor", help="check the live setup end to end (WeCom, keys, "
                                           "store) and say what to fix")
    doctor.add_argument("--userid", help="also look up this member with user/get")

    keys = sub.add_parser("keys", help="manage signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    gen = keys_sub.add_parser("generate", help="add a new signing key (it signs from now on)")
    gen.add_argument("--dir", help="keys folder (default: [keys] dir of the config)")
    gen.add_argument("--alg", choices=["RS256", "ES256"], default="RS256")
    rot = keys_sub.add_parser("rotate", help="add a new key for every algorithm in use; "
                                             "the old ones stay published until pruned")
    rot.add_argument("--dir", help="keys folder (default: [keys] dir of the config)")
    prune = keys_sub.add_parser("prune", help="remove keys replaced longer ago than any "
                                              "token they signed can live")
    prune.add_argument("--dir", help="keys folder (default: [keys] dir of the config)")
    prune.add_argument("--dry-run", action="store_true", help="only list what would go")
    prune.add_argument("--max-token-lifetime", type=int,
                       help="seconds (default: the longest of [tokens] id_token_ttl and "
                            "access_token_ttl)")

    from .emulator.__main__ import add_arguments as add_emulator_arguments

    emu = sub.add_parser("emulator", help="run the WeCom emulator alone",
                         description="A WeCom (企业微信) emulator on loopback. Its --config is "
                                     "the emulator's own TOML file, not the bridge's.")
    add_emulator_arguments(emu, config_dest="emulator_config")

    demo = sub.add_parser("demo", help="bridge + WeCom emulator + sample app on loopback")
    demo.add_argument("--port", type=int, default=9000, help="first of three ports")

    from . import device_login

    device_login.add_parser(sub)
    for name, command in sub.choices.items():
        if name != "emulator":
            _config_everywhere(command)
    return parser


def _config_everywhere(parser: argparse.ArgumentParser) -> None:
    """`--config` on a subcommand (and its actions) too: `wecom-oidc serve --config F`.
    SUPPRESS keeps a later parser from resetting what an earlier one was given."""
    parser.add_argument("--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _config_everywhere(child)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wecom-oidc")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging()
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as e:
        print(f"wecom-oidc: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _setup_logging(fmt: str = "text", level: str = "info", audit_log: str = "") -> None:
    from .ops.logging import configure

    configure(fmt, level, audit_log)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(_config_path(args))


def _config_path(args: argparse.Namespace) -> str | None:
    return getattr(args, "config", None)


def _check_config(args: argparse.Namespace) -> int:
    s = _settings(args)
    for warning in s.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"ok: {s.source}: issuer {s.issuer}, {len(s.clients)} client(s), "
          f"store {s.store.url.split('://')[0]}, keys in {s.keys.dir}")
    return 0


def _hash_secret(args: argparse.Namespace) -> int:
    import secrets

    from .config.secret_hash import MIN_SECRET_LENGTH, PBKDF2, SHA256, hash_secret

    if args.generate:
        secret = secrets.token_urlsafe(32)
        print(f"client_secret (give it to the app; it is not shown again): {secret}")
    else:
        if sys.stdin.isatty():
            import getpass

            secret = getpass.getpass("client secret: ")
        else:
            secret = sys.stdin.readline().rstrip("\r\n")
        if not secret:
            print("wecom-oidc: no secret on standard input", file=sys.stderr)
            return 2
        if len(secret) < MIN_SECRET_LENGTH and not args.allow_short:
            print(f"wecom-oidc: the secret is {len(secret)} characters; use "
                  f"{MIN_SECRET_LENGTH} or more (--generate makes one) or pass --allow-short",
                  file=sys.stderr)
            return 2
    slow = args.pbkdf2 or len(secret) < MIN_SECRET_LENGTH
    print(f'client_secret_hash = "{hash_secret(secret, PBKDF2 if slow else SHA256)}"')
    return 0


def _keys(args: argparse.Namespace) -> int:
    from .oidc import keys

    settings = None if args.dir else _settings(args)
    directory = Path(args.dir or settings.keys.dir)  # type: ignore[union-attr]
    if args.keys_command == "generate":
        print(f"new {args.alg} signing key: {keys.generate_key(directory, args.alg)}")
    elif args.keys_command == "rotate":
        algs = sorted({f.alg for f in keys.read_keys(directory)[0]}) or ["RS256"]
        for alg in algs:
            print(f"new {alg} signing key: {keys.generate_key(directory, alg)}")
        print("Restart (or reload) the bridge so it signs with the new keys; the old keys "
              "stay in the JWKS until `wecom-oidc keys prune`.")
    else:
        lifetime = args.max_token_lifetime
        if lifetime is None:
            tokens = (settings or _settings(args)).tokens
            lifetime = max(tokens.id_token_ttl, tokens.access_token_ttl)
        for path in keys.prunable(directory, lifetime):
            if not args.dry_run:
                path.unlink()
            print(("would remove " if args.dry_run else "removed ") + str(path))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .config.deployment import serve_workers
    from .oidc.keys import KeyRing

    _fresh_metrics_dir()  # first: before anything imports prometheus_client
    settings = _settings(args)
    server = settings.server
    _setup_logging(server.log_format, server.log_level, server.audit_log)
    # Generate the first key here, before workers fork, so they all load the same one.
    # Never with a shared (Redis) store: every replica loads one mounted keys folder.
    from .app import key_algs

    KeyRing.load(settings.keys.dir, create=not settings.store.shared, algs=key_algs(settings))
    workers, warning = serve_workers(settings, args.workers)
    if warning:
        logging.getLogger("wecom_oidc").warning("%s", warning)
    from .serving import ServerOptions, serve_wsgi

    options = ServerOptions(
        bind=args.bind or settings.server.bind,
        workers=workers,
        threads=args.threads or settings.server.threads,
        graceful_timeout=args.graceful_timeout or settings.server.graceful_timeout,
        private_env=(ENV_PREFIX,))
    if settings.server.metrics_bind:
        options.on_start.append(_metrics_listener(settings.server.metrics_bind))
    elif settings.server.metrics_token is None:
        logging.getLogger("wecom_oidc").warning(
            "/metrics is open on %s without a token: set [server] metrics_bind (a port "
            "of its own) or metrics_token, or block it at the proxy", options.bind)
    serve_wsgi(lambda: _make_app(settings), options)
    return 0


def _fresh_metrics_dir() -> None:
    """Workers add up their metrics in this folder (prometheus_client multiprocess
    mode). Fresh at every start, since counts left by a previous run would be added
    in; set before any worker imports prometheus_client, which reads it on import."""
    path = tempfile.mkdtemp(prefix="wecom-oidc-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    master = os.getpid()

    def _remove() -> None:
        if os.getpid() == master:  # not in a forked worker
            shutil.rmtree(path, ignore_errors=True)

    atexit.register(_remove)


def _metrics_listener(bind: str) -> Any:
    def listen() -> None:
        from .ops.metrics import serve_exposition

        serve_exposition(bind)

    return listen


def _doctor(args: argparse.Namespace) -> int:
    from .ops.doctor import main as doctor_main

    return doctor_main(_config_path(args), userid=args.userid)


def _make_app(settings: Settings) -> Any:
    from .app import create_app

    return create_app(settings)


def _emulator(args: argparse.Namespace) -> int:
    from .emulator.__main__ import run_args

    return run_args(args.host, args.port, args.emulator_config)


def _demo(args: argparse.Namespace) -> int:
    from .demo.run import main as demo_main

    return demo_main(port=args.port) or 0


def _login(args: argparse.Namespace) -> int:
    from . import device_login

    return device_login.run(args, lambda: _settings(args).issuer)


_COMMANDS = {
    "serve": _serve,
    "check-config": _check_config,
    "hash-secret": _hash_secret,
    "doctor": _doctor,
    "keys": _keys,
    "emulator": _emulator,
    "demo": _demo,
    "login": _login,
}


if __name__ == "__main__":
    sys.exit(main())
