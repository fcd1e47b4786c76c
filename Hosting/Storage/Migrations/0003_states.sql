-- Grain states in a table of this project's own (Hosting/Storage/PostgresGrainStorage.cs), so that the writes of
-- many grains commit together: one statement and one WAL flush for a batch, where Orleans' ADO.NET storage spends
-- one of each per write. A row is keyed as the ADO.NET storage keyed it (service, state name, grain key), its
-- version is the ETag, and a cleared state keeps its row (payload NULL) so that its version never goes back.

CREATE TABLE presence_state (
    serviceid text   COLLATE "C" NOT NULL,
    name      text   COLLATE "C" NOT NULL,
    key       text   COLLATE "C" NOT NULL,
    version   bigint NOT NULL CHECK (version > 0),
    payload   bytea  NULL,
    PRIMARY KEY (serviceid, name, key)
);

-- One batch of writes, each with its own version check, in the caller's one transaction: the version each write
-- stored, or 0 where the state was written by another activation since (nothing stored for that one). Expected
-- version 0 is a first write, which may also take the row of a cleared state (payload NULL). Each row is one lookup
-- by the whole primary key, so a batch never costs more than its rows, whatever the planner's statistics say (a join
-- of the batch to the table was planned as a scan of every state of the cluster while the table grew).
CREATE FUNCTION presence_state_write(
    p_service text, p_names text[], p_keys text[], p_expected bigint[], p_payloads bytea[])
RETURNS bigint[] LANGUAGE plpgsql AS $fn$
DECLARE
    versions bigint[] := '{}';
    written bigint;
BEGIN
    FOR i IN 1 .. coalesce(cardinality(p_names), 0) LOOP
        written := NULL;
        IF p_expected[i] = 0 THEN
            INSERT INTO presence_state AS s (serviceid, name, key, version, payload)
            VALUES (p_service, p_names[i], p_keys[i], 1, p_payloads[i])
            ON CONFLICT (serviceid, name, key) DO UPDATE SET version = s.version + 1, payload = excluded.payload
            WHERE s.payload IS NULL
            RETURNING s.version INTO written;
        ELSE
            UPDATE presence_state SET version = version + 1, payload = p_payloads[i]
            WHERE serviceid = p_service AND name = p_names[i] AND key = p_keys[i] AND version = p_expected[i]
            RETURNING version INTO written;
        END IF;
        versions := versions || coalesce(written, 0);
    END LOOP;
    RETURN versions;
END
$fn$;

-- A silo of the previous version still running during a rolling deploy would write where no new silo reads: its
-- writes now fail (the caller is told, nothing acknowledged is lost) until it is replaced. The trigger comes before
-- the copy: creating it locks out writers until this transaction commits, so no write lands between copy and trigger.
CREATE FUNCTION presence_storage_moved() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'grain state moved to presence_state (migration 0003): this silo runs a previous version'
        USING ERRCODE = 'PX410';
END
$fn$;

CREATE TRIGGER orleans_storage_moved BEFORE INSERT OR UPDATE OR DELETE ON orleans_storage
    FOR EACH STATEMENT EXECUTE FUNCTION presence_storage_moved();

-- What the previous version stored through the ADO.NET provider, carried over as it is: same serializer, same
-- versions. Every grain of this project has a string key, stored whole in grainidextensionstring.
INSERT INTO presence_state (serviceid, name, key, version, payload)
SELECT serviceid, graintypestring, grainidextensionstring, version, payloadbinary
FROM orleans_storage
WHERE grainidextensionstring IS NOT NULL AND grainidn0 = 0 AND grainidn1 = 0 AND version > 0;
