-- Storage settings for the write path; neither changes what is stored.
--
-- A delivery row is updated at least once (its outcome) soon after it is
-- inserted. With every page filled, that new row version rarely fits on
-- its page: PostgreSQL then locks the old version, logs the lock and
-- writes the new one elsewhere. Leaving 30 % of each new page free lets
-- most outcomes land beside the row they replace.
ALTER TABLE deliveries SET (fillfactor = 70);

-- Payloads are compressed as they are stored (most are JSON of 2 KB and
-- more); LZ4 costs a fraction of the CPU of the default pglz for a similar
-- size. Only where the server supports it (PostgreSQL 14 built with lz4);
-- rows already stored keep their compression, and both are read alike.
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 140000 AND EXISTS (
        SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE events ALTER COLUMN payload SET COMPRESSION lz4;
    END IF;
END
$$;
