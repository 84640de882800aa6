-- Treatment series: the recurrence rule, all-or-nothing and book-what-fits,
-- alternatives, and changing one session or this and all following.
BEGIN;
\ir fixtures.psql
SELECT plan(26);

-- ---------------------------------------------------------------- the rule
SELECT results_eq($$SELECT to_char(o AT TIME ZONE 'America/Lima', 'Dy YYYY-MM-DD HH24:MI')
                      FROM reflexo.series_occurrences('2037-03-09 10:00-05', 'FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=5',
                                                      'America/Lima') o$$,
                  $$VALUES ('Mon 2037-03-09 10:00'), ('Wed 2037-03-11 10:00'), ('Fri 2037-03-13 10:00'),
                           ('Mon 2037-03-16 10:00'), ('Wed 2037-03-18 10:00')$$,
                  'Monday, Wednesday and Friday at 10:00, five times');
SELECT results_eq($$SELECT to_char(o AT TIME ZONE 'Europe/Madrid', 'YYYY-MM-DD HH24:MI')
                      FROM reflexo.series_occurrences('2037-03-27 10:00+01', 'RRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20370402',
                                                      'Europe/Madrid') o$$,
                  $$VALUES ('2037-03-27 10:00'), ('2037-03-29 10:00'), ('2037-03-31 10:00'), ('2037-04-02 10:00')$$,
                  'every other day until a date, still 10:00 after the clocks change');
SELECT results_eq($$SELECT to_char(o AT TIME ZONE 'America/Lima', 'YYYY-MM-DD')
                      FROM reflexo.series_occurrences('2037-03-11 09:00-05', 'FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=3',
                                                      'America/Lima') o$$,
                  $$VALUES ('2037-03-11'), ('2037-03-23'), ('2037-03-25')$$,
                  'every other week, from the first matching day on');
SELECT is((SELECT count(*)::int FROM reflexo.series_occurrences('2037-03-09 10:00-05', 'FREQ=DAILY;BYDAY=SA,SU;COUNT=4',
                                                                'America/Lima') o
            WHERE extract(isodow FROM o AT TIME ZONE 'America/Lima') IN (6, 7)), 4, 'DAILY with BYDAY keeps those days');
SELECT is(pg_temp.error_of($$SELECT reflexo.series_occurrences(now(), 'FREQ=MONTHLY;COUNT=3', 'UTC')$$) - '{detail,hint,constraint}'::text[],
          '{"sqlstate": "22023", "message": "invalid recurrence rule: FREQ=MONTHLY is not supported"}',
          'an unsupported frequency is refused, saying which');
SELECT is(pg_temp.error_of($$SELECT reflexo.series_occurrences(now(), 'FREQ=WEEKLY', 'UTC')$$) ->> 'message',
          'invalid recurrence rule: give either COUNT or UNTIL', 'an endless rule is refused');
SELECT is(pg_temp.error_of($$SELECT reflexo.series_occurrences(now(), 'FREQ=DAILY;COUNT=201', 'UTC')$$) ->> 'sqlstate',
          '22023', 'more than 200 sessions are refused');
SELECT is(pg_temp.error_of($$SELECT reflexo.series_occurrences(now(), 'FREQ=WEEKLY;BYDAY=1MO;COUNT=2', 'UTC')$$) ->> 'message',
          'invalid recurrence rule: BYDAY takes MO, TU, WE, TH, FR, SA, SU, not "1MO"', 'so are numbered days');
SET LOCAL lc_messages = 'es_PE.UTF-8';
SELECT is(pg_temp.error_of($$SELECT reflexo.series_occurrences(now(), 'FREQ=WEEKLY', 'UTC')$$) ->> 'message',
          'Regla de recurrencia no válida: indique COUNT o UNTIL', 'in Spanish, reason included');
SET LOCAL lc_messages = 'C';

-- ---------------------------------------------------------------- booking it
SELECT reflexo.book_series(201, '2037-03-09 10:00-05', 'FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=10', '45 minutes',
                           'usr-ana', 'contact-1', 'Rodilla') AS series \gset
SELECT is((:'series'::jsonb - '{series_id,appointment_ids}'::text[]),
          '{"booked": true, "occurrences": 10, "refused": []}', 'ten sessions booked');
SELECT is((SELECT count(*)::int FROM reflexo.appointments WHERE series_id = (:'series'::jsonb ->> 'series_id')::int8
             AND ends_at - starts_at = '45 minutes' AND assigned_user_id = 'usr-ana' AND sync_state = 'pending'), 10,
          'as ten appointments of the series, each pushed to GHL on its own');
SELECT pg_temp.book(202, '10:00', '11:00', 'Ocupado', therapist => 'usr-beto', day => '2037-03-18');
SELECT pg_temp.book(202, '10:15', '10:45', 'Ocupado 2', day => '2037-03-20');
SELECT is(pg_temp.error_of($$SELECT reflexo.book_series(202, '2037-03-16 10:00-05', 'FREQ=DAILY;BYDAY=MO,WE,FR;COUNT=3',
                                                        NULL, 'usr-beto')$$) - '{detail,hint,constraint}'::text[],
          '{"sqlstate": "23P01", "message": "2 of the 3 sessions of the series cannot be booked"}',
          'all-or-nothing refuses the whole series');
SELECT alike(pg_temp.error_of($$SELECT reflexo.book_series(202, '2037-03-16 10:00-05', 'FREQ=DAILY;BYDAY=MO,WE,FR;COUNT=3',
                                                           NULL, 'usr-beto')$$) ->> 'detail',
             E'2037-03-18 10:00: schedule conflict with: Ocupado (10:00 - 11:00) (free: %)\n2037-03-20 10:00: %',
             'naming each session refused and free times near it');
SELECT is((SELECT count(*)::int FROM reflexo.appointments WHERE calendar_id = 202 AND title = ''), 0,
          'and writing nothing');
SELECT reflexo.try_series(202, '2037-03-16 10:00-05', 'FREQ=DAILY;BYDAY=MO,WE,FR;COUNT=3', NULL, 'usr-beto',
                          all_or_nothing => false) AS fits \gset
SELECT is((SELECT (:'fits'::jsonb ->> 'booked', jsonb_array_length(:'fits'::jsonb -> 'appointment_ids'),
                   jsonb_array_length(:'fits'::jsonb -> 'refused'))::text), '(true,1,2)',
          'book-what-fits books the one that fits and lists the two that do not');
SELECT is((SELECT to_char((r ->> 'starts_at')::timestamptz AT TIME ZONE 'America/Lima', 'YYYY-MM-DD HH24:MI')
             FROM jsonb_array_elements(:'fits'::jsonb -> 'refused' -> 0 -> 'alternatives') r LIMIT 1),
          '2037-03-18 09:30', 'the nearest alternative comes first');

-- ---------------------------------------------------------------- one session, or this and all following
SELECT (:'series'::jsonb ->> 'series_id')::int8 AS series_id \gset
UPDATE reflexo.appointments SET starts_at = starts_at + interval '1 hour', ends_at = ends_at + interval '1 hour'
 WHERE series_id = :series_id AND starts_at = '2037-03-11 10:00-05';
SELECT is((SELECT count(*)::int FROM reflexo.appointments WHERE series_id = :series_id
             AND (starts_at AT TIME ZONE 'America/Lima')::time = '11:00'), 1, 'one session moves like any cita');
SELECT is(reflexo.move_series(:series_id, '2037-03-16 10:00-05', '2037-03-16 12:00-05'), 7,
          'this and all following move by the same shift');
SELECT results_eq($$SELECT DISTINCT (starts_at AT TIME ZONE 'America/Lima')::time FROM reflexo.appointments
                     WHERE series_id = $$ || :series_id || $$ AND starts_at >= '2037-03-16' ORDER BY 1$$,
                  $$VALUES ('12:00'::time)$$, 'all of them at 12:00');
SELECT pg_temp.book(201, '14:00', '15:00', 'Bloquea', day => '2037-03-27');
SELECT is(pg_temp.error_of($$SELECT reflexo.move_series($$ || :series_id || $$, '2037-03-16 12:00-05', '2037-03-16 14:00-05')$$)
            ->> 'sqlstate', '23P01', 'a move that breaks a rule for one session is refused');
SELECT is((SELECT count(*)::int FROM reflexo.appointments WHERE series_id = :series_id
             AND (starts_at AT TIME ZONE 'America/Lima')::time = '12:00'), 7, 'and moves none');
SELECT is(reflexo.cancel_series(:series_id, '2037-03-20 00:00-05'), 5, 'this and all following cancelled');
SELECT is((SELECT count(*)::int FROM reflexo.appointments WHERE series_id = :series_id AND status = 'scheduled'), 5,
          'the earlier ones stay');

-- moving later, the later sessions move first: each onto the next one's old place
SELECT (reflexo.book_series(204, '2037-05-04 10:00+02', 'FREQ=DAILY;COUNT=3') ->> 'series_id')::int8 AS madrid_series \gset
SELECT is(reflexo.move_series(:madrid_series, '2037-05-04 10:00+02', '2037-05-05 10:00+02'), 3,
          'a shift onto the following session''s place moves all three');
SELECT results_eq($$SELECT to_char(starts_at AT TIME ZONE 'Europe/Madrid', 'MM-DD HH24:MI') FROM reflexo.appointments
                     WHERE series_id = $$ || :madrid_series || $$ ORDER BY starts_at$$,
                  $$VALUES ('05-05 10:00'), ('05-06 10:00'), ('05-07 10:00')$$, 'a day later each');
SELECT is((reflexo.try_series(204, '2037-05-05 10:00+02', 'FREQ=DAILY;COUNT=2', all_or_nothing => false)
            - '{refused}'::text[])::text, '{"booked": false, "series_id": null, "occurrences": 2, "appointment_ids": []}',
          'book-what-fits with nothing that fits books nothing, not even the series');

SELECT * FROM finish();
ROLLBACK;
