"""Run SQL over Iceberg tables with DuckDB's iceberg extension, as a reader that shares no
code with the project: `python scan.py OUT_DIR < queries.json`.

queries.json maps a name to a query (using `iceberg_scan('<metadata location>')`); each
result is written to OUT_DIR/<name>.parquet. S3 is reached with the standard AWS variables
(AWS_ENDPOINT_URL for a loopback server, path-style and plain HTTP when it is one)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import duckdb
from duckdb_extensions import import_extension

NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def connect() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with httpfs, avro and iceberg loaded from their wheels (no
    download) and an S3 secret from the environment."""
    con = duckdb.connect()
    for extension in ("httpfs", "avro", "iceberg"):
        import_extension(extension, con=con)
    options = {
        "TYPE": "s3",
        "KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "SECRET": os.environ["AWS_SECRET_ACCESS_KEY"],
        "REGION": os.environ.get("AWS_REGION", "us-east-1"),
    }
    if os.environ.get("AWS_SESSION_TOKEN"):
        options["SESSION_TOKEN"] = os.environ["AWS_SESSION_TOKEN"]
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        url = urlparse(endpoint)
        options |= {"ENDPOINT": url.netloc, "URL_STYLE": "path", "USE_SSL": url.scheme == "https"}
    settings = ", ".join(f"{key} {render(value)}" for key, value in options.items())
    con.execute(f"CREATE SECRET lake ({settings})")
    return con


def render(value: str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "'" + value.replace("'", "''") + "'"


def main(out_dir: Path, queries: dict[str, str]) -> None:
    con = connect()
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, sql in queries.items():
        if not NAME.match(name):
            raise SystemExit(f"query name {name!r}: use lower-case letters, digits and _")
        con.sql(sql).to_parquet(str(out_dir / f"{name}.parquet"))


if __name__ == "__main__":
    main(Path(sys.argv[1]), json.load(sys.stdin))
