-- The tables and queries of the Orleans ADO.NET providers (clustering, grain storage, reminders) on PostgreSQL 15+.
-- The providers read their SQL from orleansquery by key and bind named parameters (@Name); this file implements
-- that contract: which parameters come in, which columns go out, and the optimistic-concurrency rules.
-- Times are timestamptz throughout: Orleans sends UTC timestamptz values.

CREATE TABLE orleansquery (
    querykey  text PRIMARY KEY,
    querytext text NOT NULL
);

-- Membership: one version row per deployment (cluster id), bumped by every change of a silo row; a change applies
-- only if the version the silo read is still current.
CREATE TABLE orleans_membership_version (
    deploymentid text    PRIMARY KEY,
    version      integer NOT NULL DEFAULT 0 CHECK (version >= 0)
);

CREATE TABLE orleans_membership (
    deploymentid text        NOT NULL REFERENCES orleans_membership_version (deploymentid) ON DELETE CASCADE,
    address      text        NOT NULL,
    port         integer     NOT NULL,
    generation   integer     NOT NULL,
    siloname     text        NOT NULL,
    hostname     text        NOT NULL,
    status       integer     NOT NULL,
    proxyport    integer     NOT NULL DEFAULT 0,
    suspecttimes text        NULL,
    starttime    timestamptz NOT NULL,
    iamalivetime timestamptz NOT NULL,
    PRIMARY KEY (deploymentid, address, port, generation)
);

-- Grain state: one row per grain and state name; version is the ETag.
CREATE TABLE orleans_storage (
    serviceid              text        NOT NULL,
    graintypehash          integer     NOT NULL,
    grainidhash            integer     NOT NULL,
    grainidn0              bigint      NOT NULL,
    grainidn1              bigint      NOT NULL,
    graintypestring        text        NOT NULL,
    grainidextensionstring text        NULL,
    payloadbinary          bytea       NULL,
    version                integer     NOT NULL,
    modifiedon             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orleans_storage_grain UNIQUE NULLS NOT DISTINCT
        (serviceid, graintypehash, grainidhash, grainidn0, grainidn1, graintypestring, grainidextensionstring)
);

-- Reminders: grainhash is the grain's position on the silo ring (a signed int), read by ranges.
CREATE TABLE orleans_reminders (
    serviceid    text        NOT NULL,
    grainid      text        NOT NULL,
    remindername text        NOT NULL,
    starttime    timestamptz NOT NULL,
    period       bigint      NOT NULL,
    grainhash    integer     NOT NULL,
    version      integer     NOT NULL,
    PRIMARY KEY (serviceid, grainid, remindername)
);
CREATE INDEX orleans_reminders_ring ON orleans_reminders (serviceid, grainhash);

INSERT INTO orleansquery (querykey, querytext) VALUES
-- Membership. True/false answers are one integer column: 1 done, 0 refused.
('InsertMembershipVersionKey', $sql$
    WITH inserted AS (
        INSERT INTO orleans_membership_version (deploymentid) VALUES (@DeploymentId)
        ON CONFLICT DO NOTHING RETURNING 1)
    SELECT count(*)::integer FROM inserted
$sql$),
('InsertMembershipKey', $sql$
    WITH bumped AS (
        UPDATE orleans_membership_version SET version = version + 1
        WHERE deploymentid = @DeploymentId AND version = @Version RETURNING 1),
    inserted AS (
        INSERT INTO orleans_membership (deploymentid, address, port, generation, siloname, hostname, status, proxyport, starttime, iamalivetime)
        SELECT @DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort, @StartTime, @IAmAliveTime
        FROM bumped
        ON CONFLICT DO NOTHING RETURNING 1)
    SELECT count(*)::integer FROM inserted
$sql$),
('UpdateMembershipKey', $sql$
    WITH bumped AS (
        UPDATE orleans_membership_version SET version = version + 1
        WHERE deploymentid = @DeploymentId AND version = @Version RETURNING 1),
    updated AS (
        UPDATE orleans_membership SET status = @Status, suspecttimes = @SuspectTimes, iamalivetime = @IAmAliveTime
        WHERE deploymentid = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation
          AND EXISTS (SELECT 1 FROM bumped)
        RETURNING 1)
    SELECT count(*)::integer FROM updated
$sql$),
-- A heartbeat: never bumps the version.
('UpdateIAmAlivetimeKey', $sql$
    UPDATE orleans_membership SET iamalivetime = @IAmAliveTime
    WHERE deploymentid = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation
$sql$),
-- Reads always return the version row; a row with a NULL StartTime means "no silo".
('MembershipReadRowKey', $sql$
    SELECT v.version AS Version, m.address AS Address, m.port AS Port, m.generation AS Generation,
           m.siloname AS SiloName, m.hostname AS HostName, m.status AS Status, m.proxyport AS ProxyPort,
           m.suspecttimes AS SuspectTimes, m.starttime AS StartTime, m.iamalivetime AS IAmAliveTime
    FROM orleans_membership_version v
    LEFT JOIN orleans_membership m ON m.deploymentid = v.deploymentid
        AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
    WHERE v.deploymentid = @DeploymentId
$sql$),
('MembershipReadAllKey', $sql$
    SELECT v.version AS Version, m.address AS Address, m.port AS Port, m.generation AS Generation,
           m.siloname AS SiloName, m.hostname AS HostName, m.status AS Status, m.proxyport AS ProxyPort,
           m.suspecttimes AS SuspectTimes, m.starttime AS StartTime, m.iamalivetime AS IAmAliveTime
    FROM orleans_membership_version v
    LEFT JOIN orleans_membership m ON m.deploymentid = v.deploymentid
    WHERE v.deploymentid = @DeploymentId
$sql$),
('DeleteMembershipTableEntriesKey', $sql$
    DELETE FROM orleans_membership_version WHERE deploymentid = @DeploymentId
$sql$),
-- Clients' gateway list: silos with the given status that expose a gateway port.
('GatewaysQueryKey', $sql$
    SELECT address AS Address, proxyport AS ProxyPort, generation AS Generation
    FROM orleans_membership
    WHERE deploymentid = @DeploymentId AND status = @Status AND proxyport > 0
$sql$),
-- Removes rows of silos declared Dead (status 6) before the cutoff; never an Active row.
('CleanupDefunctSiloEntriesKey', $sql$
    DELETE FROM orleans_membership
    WHERE deploymentid = @DeploymentId AND status = 6 AND iamalivetime < @IAmAliveTime AND starttime < @IAmAliveTime
$sql$),

-- Grain storage. A write with a NULL version inserts the first row (version 1); otherwise it applies only if the
-- stored version is the one read, and returns the new version. No row back means a conflict.
('WriteToStorageKey', $sql$
    WITH updated AS (
        UPDATE orleans_storage SET payloadbinary = @PayloadBinary, version = version + 1, modifiedon = now()
        WHERE serviceid = @ServiceId AND graintypehash = @GrainTypeHash AND grainidhash = @GrainIdHash
          AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1 AND graintypestring = @GrainTypeString
          AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString
          AND @GrainStateVersion IS NOT NULL AND version = @GrainStateVersion
        RETURNING version),
    inserted AS (
        INSERT INTO orleans_storage (serviceid, graintypehash, grainidhash, grainidn0, grainidn1, graintypestring, grainidextensionstring, payloadbinary, version)
        SELECT @ServiceId, @GrainTypeHash, @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeString, @GrainIdExtensionString, @PayloadBinary, 1
        WHERE @GrainStateVersion IS NULL
        ON CONFLICT DO NOTHING RETURNING version)
    SELECT version AS NewGrainStateVersion FROM updated
    UNION ALL
    SELECT version FROM inserted
$sql$),
('ReadFromStorageKey', $sql$
    SELECT payloadbinary AS PayloadBinary, version AS Version
    FROM orleans_storage
    WHERE serviceid = @ServiceId AND graintypehash = @GrainTypeHash AND grainidhash = @GrainIdHash
      AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1 AND graintypestring = @GrainTypeString
      AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString
$sql$),
('ClearStorageKey', $sql$
    UPDATE orleans_storage SET payloadbinary = NULL, version = version + 1, modifiedon = now()
    WHERE serviceid = @ServiceId AND graintypehash = @GrainTypeHash AND grainidhash = @GrainIdHash
      AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1 AND graintypestring = @GrainTypeString
      AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString AND version = @GrainStateVersion
    RETURNING version AS NewGrainStateVersion
$sql$),
('DeleteStorageKey', $sql$
    DELETE FROM orleans_storage
    WHERE serviceid = @ServiceId AND graintypehash = @GrainTypeHash AND grainidhash = @GrainIdHash
      AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1 AND graintypestring = @GrainTypeString
      AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString AND version = @GrainStateVersion
    RETURNING version + 1 AS NewGrainStateVersion
$sql$),

-- Reminders. A row's version is its ETag.
('UpsertReminderRowKey', $sql$
    INSERT INTO orleans_reminders (serviceid, grainid, remindername, starttime, period, grainhash, version)
    VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
    ON CONFLICT (serviceid, grainid, remindername) DO UPDATE
        SET starttime = excluded.starttime, period = excluded.period, grainhash = excluded.grainhash,
            version = orleans_reminders.version + 1
    RETURNING version AS Version
$sql$),
('ReadReminderRowsKey', $sql$
    SELECT grainid AS GrainId, remindername AS ReminderName, starttime AS StartTime, period AS Period, version AS Version
    FROM orleans_reminders WHERE serviceid = @ServiceId AND grainid = @GrainId
$sql$),
('ReadReminderRowKey', $sql$
    SELECT grainid AS GrainId, remindername AS ReminderName, starttime AS StartTime, period AS Period, version AS Version
    FROM orleans_reminders WHERE serviceid = @ServiceId AND grainid = @GrainId AND remindername = @ReminderName
$sql$),
-- A ring range (BeginHash, EndHash]: Rows1 when it does not wrap, Rows2 when it does.
('ReadRangeRows1Key', $sql$
    SELECT grainid AS GrainId, remindername AS ReminderName, starttime AS StartTime, period AS Period, version AS Version
    FROM orleans_reminders WHERE serviceid = @ServiceId AND grainhash > @BeginHash AND grainhash <= @EndHash
$sql$),
('ReadRangeRows2Key', $sql$
    SELECT grainid AS GrainId, remindername AS ReminderName, starttime AS StartTime, period AS Period, version AS Version
    FROM orleans_reminders WHERE serviceid = @ServiceId AND (grainhash > @BeginHash OR grainhash <= @EndHash)
$sql$),
('DeleteReminderRowKey', $sql$
    WITH deleted AS (
        DELETE FROM orleans_reminders
        WHERE serviceid = @ServiceId AND grainid = @GrainId AND remindername = @ReminderName AND version = @Version
        RETURNING 1)
    SELECT count(*)::integer FROM deleted
$sql$),
('DeleteReminderRowsKey', $sql$
    DELETE FROM orleans_reminders WHERE serviceid = @ServiceId
$sql$);
