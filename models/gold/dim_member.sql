{{ config(
    materialized='scd2',
    unique_key='bioguide_id',
    check_cols=['party', 'state', 'district', 'committees', 'leadership_role'],
    valid_from_column='effective_date',
    surrogate_key='member_key',
    incremental_sources='new'
) }}
-- Members of the House: a version per change of party, seat, committees or leadership role,
-- effective from the day Silver says it took effect (late corrections are placed in order).
select
    bioguide_id,
    first_name,
    last_name,
    party,
    state,
    district,
    committees,
    leadership_role,
    effective_date,
    cast(now() as timestamp) as gold_ingest_ts
from {{ source('silver', 'members') }}
