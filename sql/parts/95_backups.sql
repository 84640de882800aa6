
-- ================================================================ backups
-- pg_dump writes an extension's member tables as one CREATE EXTENSION and
-- none of their rows, unless they are marked as configuration tables: every
-- table holding the clinic's data is, with its identity sequence, so that a
-- plain pg_dump backs the data up.  Restore with triggers off (pg_restore
-- --disable-triggers): the rows were checked, stamped and queued when they
-- were first written, and must come back as they were.

SELECT pg_catalog.pg_extension_config_dump('reflexo.locations', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.locations_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.calendars', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.calendars_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.closures', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.closures_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.therapists', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.series', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.series_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.appointments', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.appointments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.appointment_history', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.appointment_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.outbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.webhook_inbox', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.ghl_operation_stats', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.webhook_stats', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.ghl_tokens', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.users', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.users_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.jwt_keys', '');
