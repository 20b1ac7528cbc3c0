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
    -- The inputs of the node kinds that have constraints, with the kind
    -- of their node (read off the same row: no join).
    SELECT trace, id AS dst, kind AS dst_kind, unnest(inputs) AS input
    FROM nodes
    WHERE kind IN ('NewInit', 'SetAttr', 'GetAttr', 'Dispatch', 'Call', 'GetItem', 'Argument')
),
inputs AS (
    SELECT trace, dst, dst_kind, src, role
    FROM (
        SELECT trace, dst, dst_kind, input['src'] AS src, CAST(input['role'] AS VARCHAR) AS role
        FROM unnested
    ) AS roles
    WHERE role IN ('object', 'callable', 'op1', 'value')
),
objects AS (
    SELECT trace, id FROM nodes WHERE kind = 'Obj'
),
labelled AS (
    -- Each input is one constraint or none.
    SELECT i.trace, i.src AS src, i.dst,
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
),
pairs AS (
    SELECT trace, kind,
        CASE WHEN object_first THEN src ELSE dst END AS from_id,
        CASE WHEN object_first THEN dst ELSE src END AS to_id
    FROM labelled
    WHERE kind IS NOT NULL
)
SELECT
    p.trace, p.kind,
    p.from_id, f.kind AS from_kind, f.name AS from_name, f.type AS from_type,
    f.file AS from_file, f.line AS from_line,
    p.to_id, t.kind AS to_kind, t.name AS to_name, t.type AS to_type,
    t.file AS to_file, t.line AS to_line
FROM pairs p
JOIN nodes f ON f.trace = p.trace AND f.id = p.from_id
JOIN nodes t ON t.trace = p.trace AND t.id = p.to_id
