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

-- What the previous version stored through the ADO.NET provider, carried over as it is: same serializer, same
-- versions. Every grain of this project has a string key, stored whole in grainidextensionstring.
INSERT INTO presence_state (serviceid, name, key, version, payload)
SELECT serviceid, graintypestring, grainidextensionstring, version, payloadbinary
FROM orleans_storage
WHERE grainidextensionstring IS NOT NULL AND grainidn0 = 0 AND grainidn1 = 0 AND version > 0;

-- A silo of the previous version still running during a rolling deploy would write where no new silo reads: its
-- writes now fail (the caller is told, nothing acknowledged is lost) until it is replaced.
CREATE FUNCTION presence_storage_moved() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'grain state moved to presence_state (migration 0003): this silo runs a previous version'
        USING ERRCODE = 'PX410';
END
$fn$;

CREATE TRIGGER orleans_storage_moved BEFORE INSERT OR UPDATE OR DELETE ON orleans_storage
    FOR EACH STATEMENT EXECUTE FUNCTION presence_storage_moved();
