-- presence_collection_write as in 0002, but each item it deletes is one lookup by the whole primary key. 0002 joined
-- the collection's items to the items named, and PostgreSQL planned that as a walk over every item of the collection,
-- on every write, with deletions or none, whenever its statistics put a collection at one row (a table that grows
-- faster than autovacuum analyses it: a shard of thousands of users cost 3 to 6 ms a write). An item list as an
-- array (item = ANY) is no better: the planner keeps it as a filter on the same walk. A delete per item, each with
-- every key column equal, can only be planned as one probe of the index, whatever the statistics say.
CREATE OR REPLACE FUNCTION presence_collection_write(
    p_service text, p_kind smallint, p_key text, p_expected bigint, p_head bytea, p_items text[], p_payloads bytea[])
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    written bigint;
    removed text;
BEGIN
    IF p_expected = 0 THEN
        INSERT INTO presence_collection (serviceid, kind, key, version, head) VALUES (p_service, p_kind, p_key, 1, p_head)
        ON CONFLICT DO NOTHING
        RETURNING version INTO written;
    ELSE
        UPDATE presence_collection SET version = version + 1, head = coalesce(p_head, head)
        WHERE serviceid = p_service AND kind = p_kind AND key = p_key AND version = p_expected
        RETURNING version INTO written;
    END IF;
    IF written IS NULL THEN
        RAISE EXCEPTION 'collection % % was written by another activation (expected version %)', p_kind, p_key, p_expected
            USING ERRCODE = 'PX409';
    END IF;
    FOR removed IN SELECT c.item FROM unnest(p_items, p_payloads) AS c(item, payload) WHERE c.payload IS NULL LOOP
        DELETE FROM presence_collection_item
        WHERE serviceid = p_service AND kind = p_kind AND key = p_key AND item = removed;
    END LOOP;
    INSERT INTO presence_collection_item (serviceid, kind, key, item, payload)
    SELECT p_service, p_kind, p_key, c.item, c.payload
    FROM unnest(p_items, p_payloads) AS c(item, payload)
    WHERE c.payload IS NOT NULL
    ON CONFLICT (serviceid, kind, key, item) DO UPDATE SET payload = excluded.payload;
    RETURN written;
END
$fn$;
