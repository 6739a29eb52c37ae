"""SQL views over the tables (sql/views): one asset per view, created by the `sql_engine`.

Each view is its own asset (`gold/<view>`) so the graph shows exactly which tables it reads
(parsed from its SQL) and a view can be refreshed alone. The code version is a digest of
the SQL, so the UI flags a view whose file changed since it was last created.
"""

import dagster as dg

from stock_assets.assets.metadata import OWNERS, TABLE_NAME
from stock_assets.assets.prices import WAREHOUSE_POOL
from stock_assets.market.sql import View, load_views
from stock_assets.resources.sql_engine import SqlEngine

VIEWS = {dg.AssetKey([view.layer, view.name]): view for view in load_views()}


def _spec(key: dg.AssetKey, view: View) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        description=view.description,
        deps=[dg.AssetKey(table.split(".")) for table in view.tables],
        code_version=view.version,
        metadata={TABLE_NAME: view.qualified_name, "sql": _sql_block(view.text)},
        kinds={"sql"},
        group_name="views",
        owners=OWNERS,
    )


def _sql_block(sql: str) -> dg.MetadataValue:
    return dg.MetadataValue.md(f"```sql\n{sql.strip()}\n```")


@dg.multi_asset(
    name="sql_views",
    specs=[_spec(key, view) for key, view in VIEWS.items()],
    can_subset=True,
    pool=WAREHOUSE_POOL,  # DuckDB stores views in the warehouse file: one writer at a time
)
def sql_views(context: dg.AssetExecutionContext, sql_engine: SqlEngine):
    """Create or replace each selected view in the engine of this mode (DuckDB | Athena)."""
    for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
        created = sql_engine.create_view(VIEWS[key])
        context.log.info(f"created view {created.name}")
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "view": created.name,
                "reads": ", ".join(VIEWS[key].tables),
                "statement": _sql_block(created.statement),
                **({"athena_query_id": created.query_id} if created.query_id else {}),
            },
        )
