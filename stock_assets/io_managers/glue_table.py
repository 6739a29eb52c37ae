"""How a table lives in the Glue catalog and on S3: names, Parquet schema, storage
descriptor, and the conversions the S3 Parquet IO manager reads and writes through."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa

from stock_assets.io_managers.merge import MergeSpec
from stock_assets.market.schemas import TableSchema, conform

T = TypeVar("T")

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
VERSION_DIR = "v="  # a location's last segment starts with this: only such prefixes are deleted
PART_FILE = "part-00000.parquet"

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DATE": pa.date32(),
    # Microseconds as DuckDB and the contract's datetime64[us]; zone-less (isAdjustedToUTC
    # false) because values are UTC wall times and Athena's TIMESTAMP has no zone.
    "TIMESTAMP": pa.timestamp("us"),
}
_NULLABLE_INTS = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype()}


def hive_type(arrow_type: pa.DataType) -> str:
    """The Glue/Hive column type Athena reads an Arrow (Parquet) column as."""
    checks: list[tuple[Callable[[pa.DataType], bool], str]] = [
        (pa.types.is_string, "string"),
        (pa.types.is_large_string, "string"),
        (pa.types.is_float64, "double"),
        (pa.types.is_float32, "float"),
        (pa.types.is_int64, "bigint"),
        (pa.types.is_int32, "int"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int8, "tinyint"),
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_date32, "date"),
        (pa.types.is_timestamp, "timestamp"),
    ]
    for check, name in checks:
        if check(arrow_type):
            return name
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    raise TypeError(f"no Athena type for Arrow type {arrow_type}")


@dataclass(frozen=True)
class GlueTable:
    """One asset's table: Glue names, S3 root, and partitioning."""

    database: str
    name: str
    bucket: str
    root: str  # key prefix ending in '/': {prefix}/{layer}/{table}/
    partition_column: str | None
    contract: TableSchema | None
    merge: MergeSpec | None

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"

    def uri(self, key_prefix: str) -> str:
        return f"s3://{self.bucket}/{key_prefix}"

    def partition_root(self, value: str) -> str:
        return f"{self.root}{self.partition_column}={value}/"

    def file_schema(self, frame: pd.DataFrame | None = None) -> pa.Schema | None:
        """The Parquet schema: the contract's, or inferred from the frame for other tables."""
        if self.contract is not None:
            fields = [
                pa.field(name, _ARROW_TYPES[sql_type])
                for name, sql_type in self.contract.columns
                if name != self.partition_column
            ]
            return pa.schema(fields)
        if frame is None:
            return None
        data = frame.drop(columns=[self.partition_column] if self.partition_column else [])
        inferred = pa.Schema.from_pandas(data, preserve_index=False)
        # An all-None column infers as the null type, which Athena cannot declare.
        return pa.schema(
            [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in inferred]
        ).with_metadata(inferred.metadata)

    def storage_descriptor(self, schema: pa.Schema, location: str) -> dict[str, Any]:
        return {
            "Columns": [{"Name": f.name, "Type": hive_type(f.type)} for f in schema],
            "Location": location,
            "InputFormat": PARQUET_INPUT_FORMAT,
            "OutputFormat": PARQUET_OUTPUT_FORMAT,
            "Compressed": False,
            "SerdeInfo": {
                "SerializationLibrary": PARQUET_SERDE,
                "Parameters": {"serialization.format": "1"},
            },
            "StoredAsSubDirectories": False,
        }

    def table_input(self, schema: pa.Schema, location: str) -> dict[str, Any]:
        partition_keys = (
            [{"Name": self.partition_column, "Type": "date"}] if self.partition_column else []
        )
        return {
            "Name": self.name,
            "Description": self.contract.description if self.contract else "",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
            "PartitionKeys": partition_keys,
            "StorageDescriptor": self.storage_descriptor(schema, location),
        }


def split_uri(uri: str) -> tuple[str, str]:
    """(bucket, key prefix ending in '/') of an s3:// location."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key.rstrip("/") + "/"


def partition_values(frame: pd.DataFrame, column: str) -> pd.Series:
    """Each row's partition key ('YYYY-MM-DD'), refusing rows without one."""
    if column not in frame.columns:
        raise ValueError(f"the frame has no partition column {column!r}")
    days = pd.to_datetime(frame[column])
    if days.isna().any():
        raise ValueError(f"{int(days.isna().sum())} rows have no {column}")
    return days.dt.strftime("%Y-%m-%d")


def to_frame(table: GlueTable, tables: list[pa.Table]) -> pd.DataFrame:
    """Arrow -> pandas with the dtypes the assets produce (market.schemas.conform)."""
    if not tables:
        return table.contract.empty_frame() if table.contract else pd.DataFrame()
    combined = pa.concat_tables(tables, promote_options="permissive")
    if table.contract is None:
        return combined.to_pandas()  # the files' pandas metadata restores the dtypes
    return conform(combined.to_pandas(types_mapper=_NULLABLE_INTS.get), table.contract)


def owned_definition(table: Mapping[str, Any]) -> tuple:
    """The parts of a Glue table this IO manager owns (to skip no-op updates)."""
    sd = table.get("StorageDescriptor", {})
    return (
        table.get("TableType"),
        table.get("Description", ""),
        [(c["Name"], c["Type"]) for c in sd.get("Columns", [])],
        [(c["Name"], c["Type"]) for c in table.get("PartitionKeys", [])],
        sd.get("Location"),
        sd.get("InputFormat"),
        sd.get("OutputFormat"),
        sd.get("SerdeInfo", {}).get("SerializationLibrary"),
        {k: v for k, v in table.get("Parameters", {}).items() if k in ("classification",)},
    )


def batch_errors(response: Mapping[str, Any], values_key: str) -> dict[str, str]:
    return {
        error[values_key][0]: f"{error['ErrorDetail'].get('ErrorCode')}: "
        f"{error['ErrorDetail'].get('ErrorMessage')}"
        for error in response.get("Errors", [])
    }


def chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
