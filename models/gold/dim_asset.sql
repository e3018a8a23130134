{{ config(materialized='incremental', incremental_strategy='append') }}
-- One row per traded asset: a ticker and asset type (a stock and its options are two assets), or a
-- name and type where there is no ticker. An asset keeps its key for ever; an asset seen for the
-- first time gets the next key after the largest, in the order of its first filing, with the name
-- of that filing.
with assets as (
    select ticker, asset_name, asset_type, doc_id, line_number
    from {{ source('silver', 'transactions') }}
    qualify row_number() over (
        partition by ticker, asset_type, case when ticker is null then asset_name end
        order by doc_id, line_number
    ) = 1
),

new_assets as (
    select * from assets as a
    {% if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as d
        where d.ticker is not distinct from a.ticker and d.asset_type = a.asset_type
            and (a.ticker is not null or d.asset_name = a.asset_name)
    )
    {% endif %}
)

select
    {% if is_incremental() %}(select coalesce(max(asset_key), 0) from {{ this }}){% else %}0{% endif %}
        + row_number() over (order by doc_id, line_number) as asset_key,
    ticker,
    asset_name,
    asset_type
from new_assets
