"""`python -m wecom_oidc.emulator [--host H] [--port P] [--config FILE]`."""

from __future__ import annotations

import argparse
import sys

from .config import EmulatorConfig, load_emulator_config
from .server import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wecom-oidc emulator",
                                     description="A WeCom (企业微信) emulator on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090, help="0 picks a free port")
    parser.add_argument("--config", help="TOML file with EmulatorConfig keys")
    args = parser.parse_args(argv)
    try:
        config = load_emulator_config(args.config) if args.config else EmulatorConfig()
        run(config, args.host, args.port)
    except (ValueError, OSError) as e:  # config, directory (TOML, JSON) or socket
        print(f"wecom emulator: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
