-- hltpy's upstream constraints (the seed's BuildUpstreamConstraints): what
-- each node requires of the nodes it was computed from. Plain SQL over the
-- `nodes` and `edges` tables (schema/FORMAT.md), so any engine that reads
-- the Parquet trace runs it unchanged; hltpy-analyze registers it as the
-- view `constraints` and `hltpy-analyze constraints` prints it.
--
--   HasInit             Obj -> the NewInit that initialised it
--   HasAttr             Obj -> each SetAttr on it (its __init__'s), and
--                       GetAttr -> the object it reads
--   HasCallableMethod   Dispatch -> its callable (the GetAttr of x.f)
--   IsCallableFunction  Call -> the Function it called
--   HasItem             GetItem -> the container it indexes
--   Arg2Content         Argument -> the value passed
WITH labelled AS (
    -- One pass over the edges: each input is one constraint or none.
    SELECT e.trace, e.src, e.dst,
        CASE
            WHEN e.role = 'object' AND d.kind = 'NewInit' AND s.kind = 'Obj' THEN 'HasInit'
            WHEN e.role = 'object' AND d.kind = 'SetAttr' AND s.kind = 'Obj' THEN 'HasAttr'
            WHEN e.role = 'object' AND d.kind = 'GetAttr' THEN 'HasAttr'
            WHEN e.role = 'callable' AND d.kind = 'Dispatch' THEN 'HasCallableMethod'
            WHEN e.role = 'callable' AND d.kind = 'Call' THEN 'IsCallableFunction'
            WHEN e.role = 'op1' AND d.kind = 'GetItem' THEN 'HasItem'
            WHEN e.role = 'value' AND d.kind = 'Argument' THEN 'Arg2Content'
        END AS kind,
        -- What an object has starts at the object (the input); any other
        -- constraint starts at the node that requires it (the reader).
        (s.kind = 'Obj' AND d.kind IN ('NewInit', 'SetAttr')) AS object_first
    FROM edges e
    JOIN nodes d ON d.trace = e.trace AND d.id = e.dst
    JOIN nodes s ON s.trace = e.trace AND s.id = e.src
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
