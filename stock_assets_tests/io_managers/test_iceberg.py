"""The Iceberg (Glue catalog) IO manager against the loopback moto server (no boto3 patching).

Independent readers check what it wrote: boto3 for the Glue table Athena reads, and
pyarrow on the data files the Iceberg metadata lists."""

from __future__ import annotations

import datetime as dt

import boto3
import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from stock_assets.assets.gold import indicators, market_summary, signals
from stock_assets.assets.prices import corporate_actions, prices, raw_quotes
from stock_assets.io_managers import WarehouseIOManager
from stock_assets.io_managers.iceberg import IcebergIOManager, arrow_schema
from stock_assets.io_managers.merge import MergeSpec
from stock_assets.market import calendar
from stock_assets.market.schemas import BATCH_TABLES, LATEST_SNAPSHOT, PRICES, TABLES, conform
from stock_assets.partitions import TRADING_DAYS
from stock_assets.resources.alerts import LogAlertSink
from stock_assets.resources.aws import aws_resources
from stock_assets.resources.lake import S3Lake
from stock_assets.resources.market_data import MarketDataResource
from stock_assets_tests.conftest import JULY_2024, local_resources, sense

BUCKET = "lake-bucket"
ROOT = "stock-assets/tables/silver/prices/"
HIVE = {
    "VARCHAR": "string",
    "DOUBLE": "double",
    "BIGINT": "bigint",
    "INTEGER": "int",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
}


@pytest.fixture
def io_manager(aws_endpoint) -> IcebergIOManager:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return IcebergIOManager(bucket=BUCKET, prefix="stock-assets")


# -- helpers -------------------------------------------------------------------------------


def bars(days: list[str], close: float, symbols=("AAPL", "MSFT")) -> pd.DataFrame:
    rows = [
        {
            "symbol": symbol,
            "trade_date": dt.date.fromisoformat(day),
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close + i,
            "adj_close": close + i,
            "volume": None if symbol == "MSFT" else 1_000 + i,
            "source": "test",
            "ingested_at": pd.Timestamp("2024-07-05 21:00:00.123456"),
        }
        for i, day in enumerate(days)
        for symbol in symbols
    ]
    return conform(pd.DataFrame(rows), PRICES)


def writer(frame: pd.DataFrame, key=("silver", "prices"), metadata=None) -> dg.AssetsDefinition:
    """A partitioned asset at `key` that returns `frame` for whatever partitions it runs."""

    @dg.asset(
        key=list(key),
        partitions_def=TRADING_DAYS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata={"partition_expr": "trade_date", **(metadata or {})},
    )
    def _writer() -> pd.DataFrame:
        return frame

    return _writer


def probe(upstream: dg.AssetKey, start_offset: int = 0) -> tuple[dg.AssetsDefinition, dict]:
    """A downstream asset that keeps the frame the IO manager loaded for it."""
    seen: dict[str, pd.DataFrame] = {}

    @dg.asset(
        key=["test", "probe"],
        partitions_def=TRADING_DAYS,
        ins={
            "upstream": dg.AssetIn(
                key=upstream,
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=start_offset, allow_nonexistent_upstream_partitions=True
                ),
            )
        },
    )
    def _probe(upstream: pd.DataFrame) -> None:
        seen["frame"] = upstream

    return _probe, seen


def run(assets, resources, first: str, last: str | None = None, **kwargs):
    return dg.materialize(
        assets,
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last or first,
        },
        **kwargs,
    )


def write(io_manager, frame: pd.DataFrame, first: str, last: str | None = None, metadata=None):
    return run(
        [writer(frame, metadata=metadata)],
        {"io_manager": io_manager},
        first,
        last,
        raise_on_error=False,
    )


def read(resources, key: dg.AssetKey, day: str, start_offset: int = 0) -> pd.DataFrame:
    reader, seen = probe(key, start_offset)
    source = dg.AssetSpec(
        key, partitions_def=TRADING_DAYS, metadata={"partition_expr": "trade_date"}
    )
    run([source, reader], resources, day, selection=[reader.key])
    return seen["frame"]


def iceberg(table: str = "silver.prices"):
    """The table as pyiceberg's Glue catalog sees it (an independent reader)."""
    from pyiceberg.catalog import load_catalog

    endpoint = boto3.client("s3").meta.endpoint_url
    return load_catalog(
        "independent", type="glue", **{"glue.endpoint": endpoint, "s3.endpoint": endpoint}
    ).load_table(table)


def stored_days(table: str = "silver.prices") -> list[str]:
    """The trading days with rows in the table's current snapshot."""
    rows = iceberg(table).scan(selected_fields=("trade_date",)).to_arrow()
    return sorted({d.isoformat() for d in rows.column("trade_date").to_pylist()})


def commits(table: str = "silver.prices") -> int:
    """How many times the table's metadata pointer moved (one per commit)."""
    return len(iceberg(table).metadata.metadata_log) + 1


def keys(prefix: str) -> list[str]:
    pages = boto3.client("s3").get_paginator("list_objects_v2")
    return sorted(
        o["Key"]
        for page in pages.paginate(Bucket=BUCKET, Prefix=prefix)
        for o in page.get("Contents", [])
    )


def sorted_frame(frame: pd.DataFrame, by=("trade_date", "symbol")) -> pd.DataFrame:
    return frame.sort_values(list(by)).reset_index(drop=True)


PRICES_KEY = dg.AssetKey(["silver", "prices"])


# -- partitions ----------------------------------------------------------------------------


def test_a_partition_round_trips_with_the_dtypes_of_the_duckdb_io_manager(io_manager, tmp_path):
    frame = bars(["2024-07-05"], 10.0)
    assert write(io_manager, frame, "2024-07-05").success
    from_s3 = read({"io_manager": io_manager}, PRICES_KEY, "2024-07-05")
    pd.testing.assert_frame_equal(sorted_frame(from_s3), sorted_frame(frame), check_exact=True)

    warehouse = WarehouseIOManager(database=str(tmp_path / "w.duckdb"))
    assert write(warehouse, frame, "2024-07-05").success
    from_duckdb = read({"io_manager": warehouse}, PRICES_KEY, "2024-07-05")
    assert from_s3.dtypes.to_dict() == from_duckdb.dtypes.to_dict()
    pd.testing.assert_frame_equal(sorted_frame(from_s3), sorted_frame(from_duckdb))


def test_rematerializing_replaces_the_partition_and_an_old_snapshot_stays_readable(io_manager):
    day = "2024-07-05"
    assert write(io_manager, bars([day], 10.0), day).success
    old = iceberg().current_snapshot().snapshot_id

    assert write(io_manager, bars([day], 12.0, symbols=("AAPL",)), day).success
    table = iceberg()
    assert table.current_snapshot().snapshot_id != old
    loaded = read({"io_manager": io_manager}, PRICES_KEY, day)
    assert loaded[["symbol", "close"]].values.tolist() == [["AAPL", 12.0]]
    # A reader that planned its query on the old snapshot still reads it whole.
    held = table.scan(snapshot_id=old).to_arrow()
    assert sorted(held.column("symbol").to_pylist()) == ["AAPL", "MSFT"]
    assert set(held.column("close").to_pylist()) == {10.0}


def test_a_single_run_backfill_is_one_commit_and_empties_days_without_rows(io_manager):
    days = ["2024-07-01", "2024-07-02", "2024-07-03"]
    result = write(io_manager, bars(days, 10.0), days[0], days[-1])
    assert result.success
    assert stored_days() == days
    materializations = result.asset_materializations_for_node("silver__prices")
    assert sorted(m.partition for m in materializations) == days
    assert materializations[0].metadata["partition_count"].value == 3
    # Output metadata is copied onto every day: no whole-run count or dtypes there.
    assert not {"dagster/row_count", "dataframe_columns"} & set(materializations[0].metadata)
    one_day = write(io_manager, bars(days[:1], 11.0), days[0], days[0])
    (single,) = one_day.asset_materializations_for_node("silver__prices")
    counts = [v.value for k, v in single.metadata.items() if k.endswith("row_count")]
    assert counts == [2]
    assert "dataframe_columns" in single.metadata

    # The same range again, now without rows for the middle day: one commit for all three.
    before = commits()
    assert write(io_manager, bars([days[0], days[2]], 20.0), days[0], days[-1]).success
    assert commits() == before + 1
    assert stored_days() == [days[0], days[2]]
    loaded = read({"io_manager": io_manager}, PRICES_KEY, days[2], start_offset=-2)
    assert sorted(loaded.trade_date.astype(str).unique()) == [days[0], days[2]]
    assert set(loaded.close) == {20.0, 21.0}
    assert read({"io_manager": io_manager}, PRICES_KEY, days[1]).empty


def test_rows_outside_the_runs_partitions_are_refused(io_manager):
    result = run(
        [writer(bars(["2024-07-08"], 10.0))],
        {"io_manager": io_manager},
        "2024-07-05",
        raise_on_error=False,
    )
    assert not result.success
    assert keys("stock-assets/") == []


def test_a_long_lookback_reads_only_the_partitions_that_exist(io_manager):
    days = ["2024-07-08", "2024-07-09", "2024-07-10"]
    assert write(io_manager, bars(days, 10.0), days[0], days[-1]).success
    # 750 earlier sessions, as gold.indicators reads: nearly all of them were never written.
    loaded = read({"io_manager": io_manager}, PRICES_KEY, "2024-07-10", start_offset=-750)
    pd.testing.assert_frame_equal(sorted_frame(loaded), sorted_frame(bars(days, 10.0)))
    assert read({"io_manager": io_manager}, PRICES_KEY, "2024-07-05", start_offset=-750).empty


def test_the_glue_table_is_an_iceberg_table_athena_reads(io_manager):
    day = "2024-07-05"
    assert write(io_manager, bars([day], 10.0), day).success
    table = boto3.client("glue").get_table(DatabaseName="silver", Name="prices")["Table"]
    assert table["Parameters"]["table_type"] == "ICEBERG"
    metadata_location = table["Parameters"]["metadata_location"]
    assert metadata_location.startswith(f"s3://{BUCKET}/{ROOT}metadata/")
    sd = table["StorageDescriptor"]
    assert sd["Location"] == f"s3://{BUCKET}/{ROOT}".rstrip("/")
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [
        (name, HIVE[sql]) for name, sql in PRICES.columns
    ]
    spec = iceberg().spec()
    assert [(f.name, str(f.transform)) for f in spec.fields] == [("trade_date", "identity")]
    # The data files: Parquet with the contract's types, under the table's data/ folder only.
    (data_file,) = [k for k in keys(ROOT) if k.endswith(".parquet")]
    assert data_file.startswith(f"{ROOT}data/trade_date={day}/")
    s3 = pafs.S3FileSystem(
        endpoint_override=boto3.client("s3").meta.endpoint_url, region="us-east-1"
    )
    schema = pq.read_schema(f"{BUCKET}/{data_file}", filesystem=s3)
    assert str(schema.field("volume").type) == "int64"
    assert str(schema.field("ingested_at").type) == "timestamp[us]"
    assert str(schema.field("trade_date").type) == "date32[day]"


def test_glue_database_prefix_names_the_layer_databases(aws_endpoint):
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    manager = IcebergIOManager(bucket=BUCKET, prefix="p", glue_database_prefix="dev")
    assert write(manager, bars(["2024-07-05"], 10.0), "2024-07-05").success
    names = [d["Name"] for d in boto3.client("glue").get_databases()["DatabaseList"]]
    assert names == ["dev_silver"]
    assert stored_days("dev_silver.prices") == ["2024-07-05"]
    assert iceberg("dev_silver.prices").location() == f"s3://{BUCKET}/p/tables/silver/prices"


# -- unpartitioned and merged tables -------------------------------------------------------


def snapshot(price: float, ts: str) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "symbol": ["AAPL", "MSFT"],
            "ts": pd.to_datetime([ts, ts]),
            "price": [price, price + 1],
            "change": [0.5, None],
            "change_pct": [0.1, None],
            "name": ["Apple Inc.", None],
            "updated_at": pd.to_datetime([ts, ts]),
            "volume": [None, None],
            "last_signal": [None, None],
            "last_signal_at": pd.to_datetime([None, None]),
            "last_signal_reason": [None, None],
        }
    )
    return conform(frame, LATEST_SNAPSHOT)


def table_writer(key: list[str], frames: list[pd.DataFrame], metadata=None):
    @dg.asset(key=key, metadata=metadata or {})
    def _table() -> pd.DataFrame:
        return frames.pop(0)

    return _table


def table_read(io_manager, key: list[str]) -> pd.DataFrame:
    seen = {}

    @dg.asset(ins={"upstream": dg.AssetIn(key=key)})
    def reader(upstream: pd.DataFrame) -> None:
        seen["frame"] = upstream

    dg.materialize(
        [dg.AssetSpec(key), reader], resources={"io_manager": io_manager}, selection=[reader.key]
    )
    return seen["frame"]


def test_an_unpartitioned_table_is_replaced_by_each_write(io_manager):
    key = ["gold", "latest_snapshot"]
    frames = [snapshot(10.0, "2024-07-05 14:00"), snapshot(11.0, "2024-07-05 15:00")]
    asset = table_writer(key, frames)
    assert dg.materialize([asset], resources={"io_manager": io_manager}).success
    assert iceberg("gold.latest_snapshot").spec().is_unpartitioned()
    assert dg.materialize([asset], resources={"io_manager": io_manager}).success
    loaded = table_read(io_manager, key)
    pd.testing.assert_frame_equal(loaded, snapshot(11.0, "2024-07-05 15:00"), check_exact=True)
    independent = iceberg("gold.latest_snapshot").scan().to_arrow()
    assert sorted(independent.column("price").to_pylist()) == [11.0, 12.0]


def test_a_table_written_before_its_contract_gained_columns_takes_them(io_manager):
    """gold.latest_snapshot gained volume and last_signal*: a stored table gets them (NULL
    in its rows) on the next write, and reads them as NULL before it."""
    new = ["volume", "last_signal", "last_signal_at", "last_signal_reason"]
    table = io_manager.table("gold.latest_snapshot", partitioned=False)
    old = snapshot(10.0, "2024-07-05 14:00").drop(columns=new)
    schema = pa.schema([f for f in arrow_schema(LATEST_SNAPSHOT) if f.name not in new])
    io_manager.create(table, schema).append(pa.Table.from_pandas(old, schema=schema))
    before = io_manager.read("gold.latest_snapshot")
    assert list(before.columns) == LATEST_SNAPSHOT.column_names and before[new].isna().all().all()

    frames = [snapshot(11.0, "2024-07-05 15:00").assign(volume=500, last_signal="MOVE")]
    key = ["gold", "latest_snapshot"]
    assert dg.materialize([table_writer(key, frames)], resources={"io_manager": io_manager}).success
    stored = iceberg("gold.latest_snapshot")
    assert [f.name for f in stored.schema().fields] == LATEST_SNAPSHOT.column_names
    after = io_manager.read("gold.latest_snapshot")
    assert after.volume.tolist() == [500, 500] and after.last_signal.tolist() == ["MOVE"] * 2


def test_a_table_without_contract_keeps_the_frames_schema(io_manager):
    key = ["gold", "scratch_notes"]
    assert "gold.scratch_notes" not in TABLES
    frame = pd.DataFrame(
        {
            "n": pd.array([1, None], dtype="Int64"),
            "label": ["a", None],
            "empty": [None, None],
            "at": pd.to_datetime(["2024-07-05 10:00", "2024-07-05 11:00"]).astype("datetime64[us]"),
            "day": [dt.date(2024, 7, 5), dt.date(2024, 7, 6)],
        }
    )
    assert dg.materialize(
        [table_writer(key, [frame])], resources={"io_manager": io_manager}
    ).success
    columns = boto3.client("glue").get_table(DatabaseName="gold", Name="scratch_notes")["Table"][
        "StorageDescriptor"
    ]["Columns"]
    assert [(c["Name"], c["Type"]) for c in columns] == [
        ("n", "bigint"),
        ("label", "string"),
        ("empty", "string"),
        ("at", "timestamp"),
        ("day", "date"),
    ]
    loaded = table_read(io_manager, key)
    pd.testing.assert_frame_equal(loaded, frame.astype({"empty": object}))


def test_merged_assets_keep_stored_rows(io_manager):
    history = {**MergeSpec(keys=("symbol", "trade_date")).metadata()}
    day = "2024-07-05"
    assert write(io_manager, bars([day], 10.0), day, metadata=history).success
    assert write(
        io_manager, bars([day], 99.0, symbols=("AAPL", "XOM")), day, metadata=history
    ).success
    loaded = sorted_frame(read({"io_manager": io_manager}, PRICES_KEY, day))
    assert loaded[["symbol", "close"]].values.tolist() == [
        ["AAPL", 10.0],  # stored row kept: merged assets never rewrite a stored row
        ["MSFT", 10.0],
        ["XOM", 99.0],
    ]

    newest = MergeSpec(keys=("symbol",), newest_by="ts").metadata()
    key = ["gold", "latest_snapshot"]
    late = snapshot(5.0, "2024-07-05 13:00").iloc[[0]]  # older than what is stored
    frames = [snapshot(10.0, "2024-07-05 14:00"), late, snapshot(11.0, "2024-07-05 15:00")]
    asset = table_writer(key, frames, metadata=newest)
    for _ in range(2):
        assert dg.materialize([asset], resources={"io_manager": io_manager}).success
    assert table_read(io_manager, key).price.tolist() == [10.0, 11.0]
    assert dg.materialize([asset], resources={"io_manager": io_manager}).success
    assert table_read(io_manager, key).price.tolist() == [11.0, 12.0]


# -- AWS mode end to end -------------------------------------------------------------------


def test_aws_resources_need_a_bucket(monkeypatch):
    monkeypatch.delenv("STOCK_ASSETS_S3_BUCKET", raising=False)
    with pytest.raises(ValueError, match="STOCK_ASSETS_S3_BUCKET"):
        aws_resources()


SYMBOLS = "AAPL,MSFT"
# A split and a dividend inside JULY_2024: both modes store and apply the same actions.
ACTIONS = "AAPL:2024-07-10:split:4,MSFT:2024-07-11:dividend:0.75"
PIPELINE = [raw_quotes, prices, corporate_actions, indicators, signals, market_summary]
IGNORED = ["ingested_at", "fetched_at", "object_key"]  # run-time stamps and the lake root
CONTRACT_TABLES = [t.qualified_name for t in BATCH_TABLES]


@pytest.mark.slow
def test_aws_mode_writes_the_same_tables_as_local_mode(aws_endpoint, tmp_path, monkeypatch):
    first, last = (d.isoformat() for d in JULY_2024)
    local = local_resources(tmp_path, symbols=SYMBOLS, simulated_actions=ACTIONS)
    assert run(PIPELINE, local, first, last).success

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("STOCK_ASSETS_S3_BUCKET", BUCKET)
    aws = {
        **aws_resources(),
        "market_data": MarketDataResource(symbols=SYMBOLS, simulated_actions=ACTIONS),
        "alerts": LogAlertSink(max_age_days=100_000),
    }
    assert isinstance(aws["lake"], S3Lake)
    assert run(PIPELINE, aws, first, last).success
    actions = ["symbol", "ex_date", "action", "ratio", "amount", "source"]
    stored = aws["io_manager"].read("silver.corporate_actions")[actions]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        local_actions = conn.execute("SELECT * FROM silver.corporate_actions").fetchdf()
    expected = conform(local_actions, TABLES["silver.corporate_actions"])[actions]
    pd.testing.assert_frame_equal(
        stored.sort_values("symbol", ignore_index=True),
        expected.sort_values("symbol", ignore_index=True),
        check_exact=True,
    )
    assert list(stored.sort_values("symbol").action) == ["SPLIT", "DIVIDEND"]

    sessions = [d.isoformat() for d in calendar.sessions_between(*JULY_2024)]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        for name in CONTRACT_TABLES:
            expected = conn.execute(f"SELECT * FROM {name}").fetchdf()
            layer, table = name.split(".")
            got = read(aws, dg.AssetKey([layer, table]), sessions[-1], start_offset=-20)
            keep = [c for c in TABLES[name].column_names if c not in IGNORED]
            by = [c for c in ("trade_date", "symbol", "record_no", "signal") if c in keep]
            expected = conform(expected, TABLES[name])[keep].sort_values(by, ignore_index=True)
            got = got[keep].sort_values(by, ignore_index=True)
            pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=name)
            if name != "silver.price_rejects":
                assert len(got) > 0, name
    assert stored_days("gold.indicators") == sessions
    # Table files and raw objects never share a prefix: readers listing either see one kind.
    objects = keys("stock-assets/")
    tables = [k for k in objects if k.startswith("stock-assets/tables/")]
    assert all(k.split("/")[4] in ("data", "metadata") for k in tables)
    raw = [k for k in objects if k not in tables]
    assert raw and all(k.endswith((".jsonl", ".json")) for k in raw)
    assert any(k.startswith("stock-assets/bronze/raw_quotes/") for k in raw)


def test_stream_path_writes_the_same_tables_in_both_modes(aws_endpoint, tmp_path, monkeypatch):
    """The landing -> sensor -> stream_assets -> latest_snapshot path, once per mode, on the
    same files."""
    from stock_assets.assets.snapshot import latest_snapshot
    from stock_assets.assets.stream import stream_assets
    from stock_assets.market.landing import encode_micro_batch
    from stock_assets.market.sources.simulated import SimulatedSource

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("STOCK_ASSETS_S3_BUCKET", BUCKET)
    modes = {"local": local_resources(tmp_path, symbols=SYMBOLS), "aws": aws_resources()}
    source = SimulatedSource()
    batches = [
        source.latest_quotes(SYMBOLS.split(","), dt.datetime(2024, 7, 5, 14, m, tzinfo=dt.UTC))
        for m in (30, 31, 5)  # the last file arrives late with older quotes
    ]
    for resources in modes.values():
        for i, quotes in enumerate(batches):
            key = f"landing/quotes/2024/07/05/b{i}.jsonl"  # dated: routed to that session
            resources["lake"].put(key, encode_micro_batch(quotes))
        for request in sense(resources["lake"]).run_requests:
            assert dg.materialize(
                [stream_assets, latest_snapshot],
                resources=resources,
                run_config=request.run_config,
                partition_key=request.partition_key,
                tags=request.tags,
            ).success

    keep_history = [c for c in TABLES["silver.stream_history"].column_names if c != "ingested_at"]
    keep_snapshot = [c for c in LATEST_SNAPSHOT.column_names if c != "updated_at"]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        local_history = conn.execute("SELECT * FROM silver.stream_history").fetchdf()
        local_snapshot = conn.execute("SELECT * FROM gold.latest_snapshot").fetchdf()
    aws_history = read(modes["aws"], dg.AssetKey(["silver", "stream_history"]), "2024-07-05")
    aws_snapshot = table_read(modes["aws"]["io_manager"], ["gold", "latest_snapshot"])
    for name, local, aws, keep, by in (
        ("silver.stream_history", local_history, aws_history, keep_history, ["symbol", "ts"]),
        ("gold.latest_snapshot", local_snapshot, aws_snapshot, keep_snapshot, ["symbol"]),
    ):
        expected = conform(local, TABLES[name])[keep].sort_values(by, ignore_index=True)
        got = aws[keep].sort_values(by, ignore_index=True)
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=name)
    assert len(local_history) == 3 * len(SYMBOLS.split(","))
    newest = {q["symbol"]: q["price"] for q in batches[1]}
    assert aws_snapshot.set_index("symbol").price.to_dict() == newest


def test_read_returns_exactly_the_requested_partitions(io_manager):
    days = ["2024-07-01", "2024-07-02", "2024-07-03"]
    written = bars(days, 10.0)
    assert write(io_manager, written, days[0], days[-1]).success

    loaded = io_manager.read("silver.prices", [days[0], dt.date(2024, 7, 3), "2024-07-05"])
    expected = written[written.trade_date != dt.date(2024, 7, 2)]
    key = ["trade_date", "symbol"]
    assert (
        loaded.sort_values(key)[["trade_date", "symbol", "close", "volume"]]
        .astype(object)
        .values.tolist()
        == expected.sort_values(key)[["trade_date", "symbol", "close", "volume"]]
        .astype(object)
        .values.tolist()
    )
    assert list(loaded.columns) == PRICES.column_names
    assert io_manager.read("gold.indicators", days).empty  # not written yet
    with pytest.raises(ValueError, match="not a table name"):
        io_manager.read("../silver/prices", days)


def test_distinct_returns_the_keys_of_the_rows_read_would_return(io_manager):
    days = ["2024-07-01", "2024-07-02"]
    assert write(io_manager, bars(days, 10.0), days[0], days[-1]).success
    assert write(io_manager, bars(["2024-07-03"], 11.0, symbols=("NVDA",)), "2024-07-03").success

    every = io_manager.distinct("silver.prices", ["symbol"])
    assert list(every.columns) == ["symbol"] and sorted(every.symbol) == ["AAPL", "MSFT", "NVDA"]
    one_day = io_manager.distinct("silver.prices", ["symbol", "trade_date"], ["2024-07-03"])
    assert one_day.values.tolist() == [["NVDA", dt.date(2024, 7, 3)]]
    assert io_manager.distinct("gold.indicators", ["symbol"], days).empty  # not written yet
