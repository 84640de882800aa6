-- reflexo.within_open_hours: wall-clock containment, DST days, midnight, edges.
BEGIN;
\ir fixtures.psql
SELECT plan(18);

-- America/Lima has no DST: UTC-5 all year
SELECT ok(reflexo.within_open_hours('mon-fri 08:00-20:00', '[2026-03-10 08:00-05, 2026-03-10 20:00-05)', 'America/Lima'),
          'a booking filling the whole opening is within');
SELECT ok(NOT reflexo.within_open_hours('mon-fri 08:00-20:00', '[2026-03-10 07:59-05, 2026-03-10 09:00-05)', 'America/Lima'),
          'one minute before opening is outside');
SELECT ok(NOT reflexo.within_open_hours('mon-fri 08:00-20:00', '[2026-03-10 19:00-05, 2026-03-10 20:00:01-05)', 'America/Lima'),
          'one second after closing is outside');
SELECT ok(NOT reflexo.within_open_hours('mon-fri 08:00-13:00,14:00-20:00', '[2026-03-10 12:30-05, 2026-03-10 14:30-05)', 'America/Lima'),
          'a booking over the lunch break is outside');
SELECT ok(NOT reflexo.within_open_hours('mon-fri 08:00-20:00', '[2026-03-08 10:00-05, 2026-03-08 11:00-05)', 'America/Lima'),
          'Sunday is closed');

-- Europe/Madrid: spring forward on 2026-03-29 (02:00 CET -> 03:00 CEST)
SELECT ok(reflexo.within_open_hours('08:00-20:00', '[2026-03-29 06:00Z, 2026-03-29 07:00Z)', 'Europe/Madrid'),
          'after spring-forward 06:00Z is 08:00 local: within');
SELECT ok(NOT reflexo.within_open_hours('08:00-20:00', '[2026-03-28 06:00Z, 2026-03-28 07:00Z)', 'Europe/Madrid'),
          'the day before, 06:00Z is 07:00 local: outside');
SELECT ok(reflexo.within_open_hours('01:00-03:30', '[2026-03-29 00:30Z, 2026-03-29 01:30Z)', 'Europe/Madrid'),
          'a booking across the skipped hour covers 01:30-02:00 and 03:00-03:30 local');
SELECT ok(NOT reflexo.within_open_hours('01:00-03:00', '[2026-03-29 00:30Z, 2026-03-29 01:30Z)', 'Europe/Madrid'),
          'its 03:00-03:30 part falls outside 01:00-03:00');

-- Europe/Madrid: fall back on 2026-10-25 (03:00 CEST -> 02:00 CET)
SELECT ok(reflexo.within_open_hours('02:00-03:00', '[2026-10-25 00:30Z, 2026-10-25 01:15Z)', 'Europe/Madrid'),
          'a booking in the repeated hour (02:30 CEST to 02:15 CET) is within 02:00-03:00');
SELECT ok(NOT reflexo.within_open_hours('00:00-03:00', '[2026-10-25 01:30Z, 2026-10-25 02:30Z)', 'Europe/Madrid'),
          'after fall-back 02:30Z is 03:30 local: outside 00:00-03:00');
SELECT ok(reflexo.within_open_hours('08:00-20:00', '[2026-10-25 07:00Z, 2026-10-25 19:00Z)', 'Europe/Madrid'),
          'after fall-back 07:00Z-19:00Z is 08:00-20:00 local');

-- America/New_York: spring forward 2026-03-08, fall back 2026-11-01
SELECT ok(reflexo.within_open_hours('09:00-17:00', '[2026-03-08 13:00Z, 2026-03-08 21:00Z)', 'America/New_York'),
          'New York after spring-forward: 13:00Z-21:00Z is 09:00-17:00 EDT');
SELECT ok(NOT reflexo.within_open_hours('09:00-17:00', '[2026-11-01 13:00Z, 2026-11-01 14:00Z)', 'America/New_York'),
          'New York after fall-back: 13:00Z is 08:00 EST');

-- midnight and edges
SELECT ok(reflexo.within_open_hours('mon 22:00-24:00; tue 00:00-02:00', '[2026-03-09 23:00-05, 2026-03-10 01:00-05)', 'America/Lima'),
          'a booking across midnight is within when both days are open around it');
SELECT ok(NOT reflexo.within_open_hours('mon 22:00-24:00', '[2026-03-09 23:00-05, 2026-03-10 01:00-05)', 'America/Lima'),
          'and outside when the next day is closed');
SELECT ok(reflexo.within_open_hours('closed', 'empty', 'America/Lima'), 'an empty range is trivially within');
SELECT throws_ok($$SELECT reflexo.within_open_hours('08:00-20:00', '[2026-03-10 10:00Z, 2026-03-10 11:00Z)', 'Mars/Olympus')$$,
                 '22023', 'time zone "Mars/Olympus" not recognized', 'an unknown zone is an invalid parameter');

SELECT * FROM finish();
ROLLBACK;
