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


def streamlit_command(port: int, address: str) -> list[str]:
    """The `streamlit run` command line of the app on address:port."""
    options = [f"--{name}={value}" for name, value in STREAMLIT_OPTIONS.items()]
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
    args = parser.parse_args(argv)
    command = streamlit_command(args.port, args.address)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
