{# An asset's natural key within its asset_type: the ticker, or the name of an asset without one.
   An equality on it lets DuckDB hash-join trades to dim_asset. #}
{% macro asset_id(ticker, asset_name) %}coalesce({{ ticker }}, '#' || {{ asset_name }}){% endmacro %}
