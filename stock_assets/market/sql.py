"""The sql/ views: written once in Athena's dialect, translated for DuckDB with sqlglot.

`sql/views/<name>.sql` holds one `CREATE OR REPLACE VIEW <layer>.<name> AS ...` statement,
preceded by `--` comment lines that describe it. Athena runs it as written; locally sqlglot
translates it to DuckDB (json_extract_scalar -> `->>`, TRY, date functions, ...). Tables
are referenced by layer (`silver.prices`); in AWS the layer's Glue database may carry a
prefix (`glue_database`), applied here by rewriting the parsed statement.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp

# An installed wheel carries sql/ as stock_assets/sql (pyproject's package-dir); a source
# checkout (editable install, tests) reads the repository's sql/ folder.
_PACKAGE = Path(__file__).resolve().parents[1]
SQL_DIR = _PACKAGE / "sql" if (_PACKAGE / "sql").is_dir() else _PACKAGE.parent / "sql"
LAYERS = ("bronze", "silver", "gold")
SOURCE_DIALECT = "athena"
_GLUE_NAME = re.compile(r"^[a-z0-9_]+$")


def glue_database(layer: str, prefix: str = "") -> str:
    """The Glue database of a layer: the layer itself, or `<prefix>_<layer>` with a prefix.

    The prefix lets several deployments (dev, prod) share one account's catalog.
    """
    name = f"{prefix}_{layer}" if prefix else layer
    if not _GLUE_NAME.match(name):
        raise ValueError(f"{name!r} is not a valid Glue database name (a-z, 0-9, _)")
    return name


def parse_view(name: str, text: str) -> exp.Create:
    """The one `CREATE OR REPLACE VIEW <layer>.<name>` statement of a view file."""
    statements = [s for s in sqlglot.parse(text, read=SOURCE_DIALECT) if s is not None]
    if len(statements) != 1 or not isinstance(statements[0], exp.Create):
        raise ValueError(f"{name}.sql: expected one CREATE OR REPLACE VIEW statement")
    create = statements[0]
    if create.kind != "VIEW" or not create.args.get("replace"):
        raise ValueError(f"{name}.sql: expected CREATE OR REPLACE VIEW")
    target = create.this
    if target.db not in LAYERS or target.name != name:
        raise ValueError(
            f"{name}.sql: the view must be named <layer>.{name} with a layer in {LAYERS}, "
            f"not {target.sql()}"
        )
    return create


@dataclass(frozen=True)
class View:
    """One view of sql/views: its Athena text, parsed, and what it reads."""

    text: str
    statement: exp.Create

    @classmethod
    def from_file(cls, path: Path) -> View:
        text = path.read_text()
        return cls(text=text, statement=parse_view(path.stem, text))

    @property
    def layer(self) -> str:
        return self.statement.this.db

    @property
    def name(self) -> str:
        return self.statement.this.name

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def description(self) -> str:
        lines = []
        for line in self.text.splitlines():
            if not line.startswith("--"):
                break
            lines.append(line.removeprefix("--").strip())
        return " ".join(lines)

    @property
    def tables(self) -> tuple[str, ...]:
        """The `layer.table`s the view reads (CTE names are not tables)."""
        found = {f"{t.db}.{t.name}" for t in self.statement.expression.find_all(exp.Table) if t.db}
        return tuple(sorted(found))

    @property
    def version(self) -> str:
        """A digest of the SQL text: changes exactly when the view's definition does."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def to_athena(self, database_prefix: str = "") -> str:
        return _with_databases(self.statement, database_prefix).sql(
            dialect=SOURCE_DIALECT, comments=False
        )

    def to_duckdb(self) -> str:
        return self.statement.sql(dialect="duckdb", comments=False)


def _with_databases(statement: exp.Create, prefix: str) -> exp.Create:
    """The statement with every layer database renamed to its Glue database."""
    if not prefix:
        return statement

    def rename(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.db in LAYERS:
            node = node.copy()
            node.set("db", exp.to_identifier(glue_database(node.db, prefix)))
        return node

    return statement.transform(rename)


def load_views(sql_dir: Path = SQL_DIR) -> list[View]:
    """Every view under sql_dir/views, parsed now so that a broken file fails at load time."""
    folder = sql_dir / "views"
    if not folder.is_dir():
        raise FileNotFoundError(f"no SQL views folder at {folder} (the repository's sql/views)")
    return [View.from_file(path) for path in sorted(folder.glob("*.sql"))]
