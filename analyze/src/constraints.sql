-- hltpy's upstream constraints (the seed's BuildUpstreamConstraints): what
-- each node requires of the nodes it was computed from. Plain SQL over the
-- `nodes` table (schema/FORMAT.md's columns plus `trace`, the file a node
-- came from), so any engine that reads the Parquet trace runs it unchanged;
-- hltpy-analyze registers it as the view `constraints` and
-- `hltpy-analyze constraints` prints it.
--
--   HasInit             Obj -> the NewInit that initialised it
--   HasAttr             Obj -> each SetAttr on it (its __init__'s), and
--                       GetAttr -> the object it reads
--   HasCallableMethod   Dispatch -> its callable (the GetAttr of x.f)
--   IsCallableFunction  Call -> the Function it called
--   HasItem             GetItem -> the container it indexes
--   Arg2Content         Argument -> the value passed
WITH unnested AS (
    -- The inputs of the node kinds that have constraints, with their node
    -- (the reader) read off the same row: no join for that end.
    SELECT trace, id AS dst, kind AS dst_kind, name AS dst_name, type AS dst_type,
        file AS dst_file, line AS dst_line, unnest(inputs) AS input
    FROM nodes
    WHERE kind IN ('NewInit', 'SetAttr', 'GetAttr', 'Dispatch', 'Call', 'GetItem', 'Argument')
),
inputs AS (
    SELECT *
    FROM (
        SELECT trace, dst, dst_kind, dst_name, dst_type, dst_file, dst_line,
            input['src'] AS src, CAST(input['role'] AS VARCHAR) AS role
        FROM unnested
    ) AS roles
    WHERE role IN ('object', 'callable', 'op1', 'value')
),
objects AS (
    SELECT trace, id FROM nodes WHERE kind = 'Obj'
),
labelled AS (
    -- Each input is one constraint or none.
    SELECT i.*,
        CASE
            WHEN i.role = 'object' AND i.dst_kind = 'NewInit' AND o.id IS NOT NULL THEN 'HasInit'
            WHEN i.role = 'object' AND i.dst_kind = 'SetAttr' AND o.id IS NOT NULL THEN 'HasAttr'
            WHEN i.role = 'object' AND i.dst_kind = 'GetAttr' THEN 'HasAttr'
            WHEN i.role = 'callable' AND i.dst_kind = 'Dispatch' THEN 'HasCallableMethod'
            WHEN i.role = 'callable' AND i.dst_kind = 'Call' THEN 'IsCallableFunction'
            WHEN i.role = 'op1' AND i.dst_kind = 'GetItem' THEN 'HasItem'
            WHEN i.role = 'value' AND i.dst_kind = 'Argument' THEN 'Arg2Content'
        END AS kind,
        -- What an object has starts at the object (the input); any other
        -- constraint starts at the node that requires it (the reader).
        (o.id IS NOT NULL AND i.dst_kind IN ('NewInit', 'SetAttr')) AS object_first
    FROM objects o
    RIGHT JOIN inputs i ON o.trace = i.trace AND o.id = i.src
)
SELECT
    l.trace, l.kind,
    CASE WHEN l.object_first THEN l.src ELSE l.dst END AS from_id,
    CASE WHEN l.object_first THEN s.kind ELSE l.dst_kind END AS from_kind,
    CASE WHEN l.object_first THEN s.name ELSE l.dst_name END AS from_name,
    CASE WHEN l.object_first THEN s.type ELSE l.dst_type END AS from_type,
    CASE WHEN l.object_first THEN s.file ELSE l.dst_file END AS from_file,
    CASE WHEN l.object_first THEN s.line ELSE l.dst_line END AS from_line,
    CASE WHEN l.object_first THEN l.dst ELSE l.src END AS to_id,
    CASE WHEN l.object_first THEN l.dst_kind ELSE s.kind END AS to_kind,
    CASE WHEN l.object_first THEN l.dst_name ELSE s.name END AS to_name,
    CASE WHEN l.object_first THEN l.dst_type ELSE s.type END AS to_type,
    CASE WHEN l.object_first THEN l.dst_file ELSE s.file END AS to_file,
    CASE WHEN l.object_first THEN l.dst_line ELSE s.line END AS to_line
FROM labelled l
JOIN nodes s ON s.trace = l.trace AND s.id = l.src
WHERE l.kind IS NOT NULL
