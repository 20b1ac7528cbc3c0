-- One row per input of a node: the edges of the trace DAG. Plain SQL over
-- the `nodes` table (schema/FORMAT.md's columns plus `trace`, the file a
-- node came from), like constraints.sql, so other engines that read the
-- Parquet trace run it too (Spark spells unnest `explode`: the interop
-- tests derive that dialect from this text).
SELECT trace, input['src'] AS src, CAST(input['role'] AS VARCHAR) AS role,
    input['key'] AS key, dst
FROM (SELECT trace, id AS dst, unnest(inputs) AS input FROM nodes) AS unnested
