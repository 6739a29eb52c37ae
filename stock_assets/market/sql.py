"""The sql/ views: written once in Athena's dialect, translated for DuckDB with sqlglot.

`sql/views/<name>.sql` holds one `CREATE OR REPLACE VIEW <layer>.<name> AS ...` statement,
preceded by `--` comment lines that describe it. Athena runs it as written; locally sqlglot
translates it to DuckDB (json_extract_scalar -> `->>`, TRY, date functions, ...). Tables
are referenced by layer (`silver.prices`); in AWS the layer's Glue database may carry a
prefix (`glue_database`), applied here by rewriting the parsed statement.

Loading the code location needs each view's name and the tables it reads, not its parsed
statement: those are kept in the file cache (keyed by the files, sqlglot's version and this
module), so a run process reads them without importing sqlglot. sqlglot is
imported where a statement is parsed or written.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from stock_assets.market import filecache

if TYPE_CHECKING:
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
    import sqlglot
    from sqlglot import exp

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
    """One view of sql/views: its Athena text, where it lives and which tables it reads."""

    text: str
    layer: str
    name: str
    tables: tuple[str, ...]  # the `layer.table`s it reads (CTE names are not tables)
    # Written once when the file is parsed and kept in the file cache with the rest, so a
    # run that creates and checks the views locally needs no sqlglot parse of its own.
    duckdb: str = ""  # the statement for DuckDB
    columns: tuple[str, ...] = ()  # the outer select list, in order

    @classmethod
    def from_file(cls, path: Path) -> View:
        return cls.parse(path.stem, path.read_text())

    @classmethod
    def parse(cls, name: str, text: str) -> View:
        from sqlglot import exp

        statement = parse_view(name, text)
        found = {f"{t.db}.{t.name}" for t in statement.expression.find_all(exp.Table) if t.db}
        return cls(
            text,
            statement.this.db,
            statement.this.name,
            tuple(sorted(found)),
            duckdb=statement.sql(dialect="duckdb", comments=False),
            columns=tuple(statement.expression.named_selects),
        )

    @cached_property
    def statement(self) -> exp.Create:
        """The parsed statement, on first use (writing it for an engine)."""
        return parse_view(self.name, self.text)

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
    def version(self) -> str:
        """A digest of the SQL text: changes exactly when the view's definition does."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def to_athena(self, database_prefix: str = "") -> str:
        return _with_databases(self.statement, database_prefix).sql(
            dialect=SOURCE_DIALECT, comments=False
        )

    def to_duckdb(self) -> str:
        return self.duckdb or self.statement.sql(dialect="duckdb", comments=False)

    @property
    def declared_columns(self) -> list[str]:
        """The view's columns as its SQL declares them: the outer select list, in order."""
        return list(self.columns or self.statement.expression.named_selects)


def _with_databases(statement: exp.Expression, prefix: str) -> exp.Expression:
    """The statement with every layer database renamed to its Glue database."""
    if not prefix:
        return statement
    from sqlglot import exp

    def rename(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.db in LAYERS:
            node = node.copy()
            node.set("db", exp.to_identifier(glue_database(node.db, prefix)))
        return node

    return statement.transform(rename)


@lru_cache(maxsize=256)
def translate_query(text: str, dialect: str, database_prefix: str = "") -> str:
    """A read query written in Athena SQL, for `duckdb` or for `athena` with the Glue prefix.

    `?` placeholders pass through unchanged, so values stay bound by the engine and never
    become SQL text. Cached: the dashboard runs the same few statements over and over.
    """
    import sqlglot

    statement = sqlglot.parse_one(text, read=SOURCE_DIALECT)
    if dialect == "duckdb":
        return statement.sql(dialect="duckdb")
    if dialect == SOURCE_DIALECT:
        return _with_databases(statement, database_prefix).sql(dialect=SOURCE_DIALECT)
    raise ValueError(f"no SQL engine for dialect {dialect!r} (expected duckdb or athena)")


def load_views(sql_dir: Path = SQL_DIR) -> list[View]:
    """Every view under sql_dir/views; a file that does not parse fails here, at load time."""
    folder = sql_dir / "views"
    if not folder.is_dir():
        raise FileNotFoundError(f"no SQL views folder at {folder} (the repository's sql/views)")
    texts = {path.stem: path.read_text() for path in sorted(folder.glob("*.sql"))}
    key = {
        "views": hashlib.sha256(json.dumps(texts).encode()).hexdigest(),
        "sqlglot": importlib.metadata.version("sqlglot"),
        "code": filecache.source_digest(__file__),
    }
    return filecache.cached(
        "views.json",
        key,
        build=lambda: [View.parse(name, text) for name, text in texts.items()],
        encode=lambda views: json.dumps(
            [[v.layer, v.name, v.tables, v.duckdb, v.columns] for v in views]
        ).encode(),
        decode=lambda payload: _views(texts, json.loads(payload)),
    )


def _views(texts: dict[str, str], rows: list[list]) -> list[View]:
    """The views of a cache entry, which holds [layer, name, tables, DuckDB statement,
    columns] per file in order."""
    views = [
        View(text, str(layer), str(name), tuple(map(str, tables)), str(duck), tuple(columns))
        for text, (layer, name, tables, duck, columns) in zip(texts.values(), rows, strict=True)
    ]
    if [v.name for v in views] != list(texts) or any(v.layer not in LAYERS for v in views):
        raise ValueError("the entry's views are not the files' views")
    return views
