"""`python -m stock_assets.dashboard`: serve the dashboard with Streamlit, offline.

The flags keep Streamlit off the network (no browser opened, no usage statistics, no
development mode) and show unexpected errors as a generic message without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"
STREAMLIT_OPTIONS = {
    "server.headless": "true",
    "browser.gatherUsageStats": "false",
    "global.developmentMode": "false",
    "server.fileWatcherType": "none",
    "client.showErrorDetails": "type",
    "client.toolbarMode": "viewer",
}


def streamlit_command(port: int, address: str, base_url_path: str = "") -> list[str]:
    """The `streamlit run` command line of the app on address:port (under a URL path)."""
    options = [f"--{name}={value}" for name, value in STREAMLIT_OPTIONS.items()]
    if base_url_path:
        options.append(f"--server.baseUrlPath={base_url_path.strip('/')}")
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        *options,
        f"--server.port={port}",
        f"--server.address={address}",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stock_assets.dashboard", description=__doc__)
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--address", default="127.0.0.1", help="0.0.0.0 in a container")
    parser.add_argument(
        "--base-url-path", default="", help="serve under this path (behind a shared load balancer)"
    )
    args = parser.parse_args(argv)
    command = streamlit_command(args.port, args.address, args.base_url_path)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
