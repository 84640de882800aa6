-- The reflexo.open_hours type: text and binary forms, equality, GHL JSON, errors.
BEGIN;
\ir fixtures.psql
SELECT plan(24);

SELECT is('mon-fri 08:00-13:00,14:00-20:00; sat 09:00-13:00'::reflexo.open_hours::text,
          'mon-fri 08:00-13:00,14:00-20:00; sat 09:00-13:00', 'the canonical text form round-trips');
SELECT is('08:00-20:00'::reflexo.open_hours::text, '08:00-20:00', 'intervals without days apply to every day');
SELECT is(' Mon-Sun 8:00 - 20:00 '::reflexo.open_hours::text, '08:00-20:00', 'input is case- and blank-tolerant');
SELECT is('mon 08:00-13:00, 12:00-14:00; mon 14:00-15:00'::reflexo.open_hours::text, 'mon 08:00-15:00',
          'overlapping and touching intervals of a day merge');
SELECT is('fri-mon 10:00-14:00'::reflexo.open_hours::text, 'mon 10:00-14:00; fri-sun 10:00-14:00',
          'a day range may wrap around the week');
SELECT is('closed'::reflexo.open_hours::text, 'closed', 'a schedule can be closed every day');
SELECT is('mon 22:00-24:00; tue 00:00-02:00'::reflexo.open_hours::text, 'mon 22:00-24:00; tue 00:00-02:00',
          'overnight hours are two intervals, the first closing at 24:00');

SELECT ok('mon-fri 08:00-20:00'::reflexo.open_hours OPERATOR(reflexo.=) 'mon-fri 08:00-14:00,14:00-20:00',
          'equal schedules compare equal whatever their spelling');
SELECT ok('mon-fri 08:00-20:00'::reflexo.open_hours OPERATOR(reflexo.<>) 'mon-sat 08:00-20:00',
          'different schedules compare different');

-- binary send/receive, through COPY BINARY
CREATE TEMP TABLE hours_out (h reflexo.open_hours);
CREATE TEMP TABLE hours_in (h reflexo.open_hours);
INSERT INTO hours_out VALUES ('mon-fri 08:00-13:00,14:00-20:00; sat 09:00-13:00'), ('closed'), ('00:00-24:00');
DO $$
DECLARE file text := current_setting('data_directory') || '/pgtap_open_hours.bin';
BEGIN
  EXECUTE format('COPY hours_out TO %L (FORMAT binary)', file);
  EXECUTE format('COPY hours_in FROM %L (FORMAT binary)', file);
END $$;
SELECT results_eq('SELECT h::text FROM hours_in', 'SELECT h::text FROM hours_out',
                  'binary COPY out and in preserves every schedule');
SELECT is(encode(reflexo.open_hours_send('sat 09:00-13:00'), 'hex'),
          '00000000000100' || '021c' || '030c', 'the binary form is counts per day, then minute pairs');

-- invalid text
SELECT throws_ok($$SELECT 'mon-fri 08:00 13:00'::reflexo.open_hours$$, '22P02',
                 'invalid input syntax for type open_hours: "mon-fri 08:00 13:00"',
                 'a missing dash is invalid text representation');
SELECT is(pg_temp.error_of($$SELECT 'mon-fri 08:00 13:00'::reflexo.open_hours$$)->>'detail',
          'At character 15, near "13:00": expected "-" between opening and closing times.',
          'the detail shows where parsing failed');
SELECT is(pg_temp.error_of($$SELECT 'mon 22:00-02:00'::reflexo.open_hours$$)->>'detail',
          'At character 5, near "22:00-02:00": an interval must close after it opens; write an overnight opening as two intervals, e.g. "mon 22:00-24:00; tue 00:00-02:00".',
          'an interval crossing midnight is refused with the way to write it');
SELECT is(pg_temp.error_of($$SELECT 'funday 10:00-11:00'::reflexo.open_hours$$)->>'sqlstate', '22P02',
          'an unknown day name is invalid');
SELECT is(pg_temp.error_of($$SELECT 'mon 24:00-24:00'::reflexo.open_hours$$)->>'detail',
          'At character 5, near "24:00-24:00": 24:00 can only close an interval.', '24:00 cannot open');
SELECT is(pg_temp.error_of($$SELECT 'mon 08:00-09:00;'::reflexo.open_hours$$), NULL, 'a trailing semicolon is fine');
SELECT is(pg_temp.error_of($$SELECT 'mon 08:00-09:00 x'::reflexo.open_hours$$)->>'detail',
          'At character 17, near "x": expected ";" between rules or "," between intervals.', 'trailing garbage is refused');

-- GHL openHours JSON
SELECT is(('[{"daysOfTheWeek":[1,2,3,4,5],"hours":[{"openHour":9,"openMinute":0,"closeHour":17,"closeMinute":0}]}]'::jsonb
           ::reflexo.open_hours)::text, 'mon-fri 09:00-17:00', 'GHL days 1-5 are Monday to Friday');
SELECT is(('[{"daysOfTheWeek":[0,6],"hours":[{"openHour":9,"openMinute":30,"closeHour":0,"closeMinute":0},
                                              {"openHour":7,"openMinute":0,"closeHour":8,"closeMinute":0}]}]'::jsonb
           ::reflexo.open_hours)::text, 'sat-sun 07:00-08:00,09:30-24:00',
          'GHL day 0 is Sunday and a 00:00 close means midnight');
SELECT is(('[{"daysOfTheWeek":[3],"hours":[{"openHour":8,"openMinute":0,"closeHour":23,"closeMinute":60}]}]'::jsonb
           ::reflexo.open_hours)::text, 'wed 08:00-24:00', 'GHL 23:60 is midnight');
SELECT is(('[]'::jsonb::reflexo.open_hours)::text, 'closed', 'an empty GHL openHours is closed');
SELECT is(pg_temp.error_of($$SELECT '[{"daysOfTheWeek":[7],"hours":[]}]'::jsonb::reflexo.open_hours$$)->>'detail',
          'Entry 1: "daysOfTheWeek" is out of range.', 'GHL day 7 is refused even with no hours');
SELECT is(pg_temp.error_of($$SELECT '{"openHours":[]}'::jsonb::reflexo.open_hours$$)->>'sqlstate', '22023',
          'a JSON object instead of an array is an invalid parameter');

SELECT * FROM finish();
ROLLBACK;
