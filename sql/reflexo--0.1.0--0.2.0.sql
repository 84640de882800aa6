-- reflexo 0.1.0 → 0.2.0: every SQL change made since 0.1.0, for databases
-- that have it installed (ALTER EXTENSION reflexo UPDATE).  A fresh install
-- of 0.2.0 (sql/parts/) and 0.1.0 updated with this script must have the same
-- catalog; tests/t/040_extension_upgrade.pl compares them.

\echo Use "ALTER EXTENSION reflexo UPDATE" to load this file. \quit
