"""`python -m wecom_oidc.emulator [--host H] [--port P] [--config FILE]`."""

from __future__ import annotations

import argparse
import sys

from .config import EmulatorConfig, load_emulator_config
from .server import run


def add_arguments(parser: argparse.ArgumentParser, config_dest: str = "config") -> None:
    """The emulator's options (also those of `wecom-oidc emulator`)."""
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument("--port", type=int, default=8090, help="default 8090; 0 picks a free port")
    parser.add_argument("--config", dest=config_dest, metavar="FILE",
                        help="TOML file with EmulatorConfig keys (the emulator's own)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wecom_oidc.emulator",
                                     description="A WeCom (企业微信) emulator on loopback.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_args(args.host, args.port, args.config)


def run_args(host: str, port: int, config_file: str | None) -> int:
    """Serve until interrupted; 2 with the reason for a bad config or a busy port."""
    try:
        config = load_emulator_config(config_file) if config_file else EmulatorConfig()
        run(config, host, port)
    except (ValueError, OSError) as e:  # config, directory (TOML, JSON) or socket
        print(f"wecom emulator: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
