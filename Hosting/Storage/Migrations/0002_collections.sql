-- Collections stored by change (Grains/Storage/ICollectionStore.cs): a channel's members, an index shard's online
-- users, change log and stream holds, a subscriber's subscriptions. One row per item, written when that item changes;
-- a head row per collection carries the grain's own bookkeeping and the version that fences a stale activation.
-- serviceid keeps clusters that share a database apart, as in orleans_storage. Keys compare bytewise (COLLATE "C").

CREATE TABLE presence_collection (
    serviceid text     COLLATE "C" NOT NULL,
    kind      smallint NOT NULL,
    key       text     COLLATE "C" NOT NULL,
    version   bigint   NOT NULL CHECK (version > 0),
    head      bytea    NULL,
    PRIMARY KEY (serviceid, kind, key)
);

CREATE TABLE presence_collection_item (
    serviceid text     COLLATE "C" NOT NULL,
    kind      smallint NOT NULL,
    key       text     COLLATE "C" NOT NULL,
    item      text     COLLATE "C" NOT NULL,
    payload   bytea    NOT NULL,
    PRIMARY KEY (serviceid, kind, key, item)
);

-- One write of one collection, atomic: the version must still be the one the writer read or last wrote (0: none
-- yet), else nothing is written and SQLSTATE PX409 is raised. A null payload deletes its item; a null head keeps
-- the stored one. Returns the new version.
CREATE FUNCTION presence_collection_write(
    p_service text, p_kind smallint, p_key text, p_expected bigint, p_head bytea, p_items text[], p_payloads bytea[])
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    written bigint;
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
    DELETE FROM presence_collection_item i
    USING unnest(p_items, p_payloads) AS c(item, payload)
    WHERE i.serviceid = p_service AND i.kind = p_kind AND i.key = p_key AND i.item = c.item AND c.payload IS NULL;
    INSERT INTO presence_collection_item (serviceid, kind, key, item, payload)
    SELECT p_service, p_kind, p_key, c.item, c.payload
    FROM unnest(p_items, p_payloads) AS c(item, payload)
    WHERE c.payload IS NOT NULL
    ON CONFLICT (serviceid, kind, key, item) DO UPDATE SET payload = excluded.payload;
    RETURN written;
END
$fn$;
