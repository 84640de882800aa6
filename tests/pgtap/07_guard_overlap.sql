-- Rule: no more overlapping active appointments than the calendar's capacity,
-- and one therapist is never booked twice at once in a location (23P01).
BEGIN;
\ir fixtures.psql
SELECT plan(24);

-- no lunch break here: these tests are about overlaps only
UPDATE reflexo.calendars SET open_hours = 'mon-sat 08:00-20:00' WHERE id IN (201, 202);

SELECT pg_temp.book(201, '14:00', '15:00', 'Cita Existente', 'ana');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '14:30', '15:30', 'Nueva')$$) - 'detail',
  '{"sqlstate": "23P01", "message": "schedule conflict with: Cita Existente (14:00 - 15:00)",
    "hint": "Choose another time or calendar, or set reflexo.strict_validation = off to store it flagged.",
    "constraint": "appointments_no_overlap"}'::jsonb,
  'an overlap is an exclusion violation naming the conflicting appointment and its local times');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '14:30', '15:30', 'Nueva')$$)->>'detail',
  format('Calendar "Fisioterapia" allows 1 appointment at a time; appointment %s runs 2026-03-10 14:00-15:00 (America/Lima).',
         (SELECT id FROM reflexo.appointments WHERE title = 'Cita Existente')),
  'the detail names the calendar, its capacity and the appointment in the way');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '13:30', '14:01')$$)->>'sqlstate', '23P01',
          'one minute of overlap is an overlap');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '15:00', '16:00')$$), NULL,
          'back-to-back bookings do not overlap');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '13:00', '14:00')$$), NULL,
          'nor does one ending when the other starts');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '14:15', '14:45')$$)->>'sqlstate', '23P01',
          'a booking inside another overlaps');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(202, '14:30', '15:30', 'Otra sala')$$), NULL,
          'another calendar at the same time is fine');

-- the same therapist anywhere in the location
SELECT alike(pg_temp.error_of($$SELECT pg_temp.book(203, '14:30', '15:30', 'Pilates', 'ana')$$)->>'detail',
            'Therapist ana already has appointment % at 2026-03-10 14:00-15:00 (America/Lima) in this location.',
            'a therapist cannot be in two calendars at once');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(204, '14:30', '15:30', 'Madrid', 'ana', '2026-03-10', 'Europe/Madrid')$$), NULL,
          'the same user id in another location is someone else''s calendar');

-- capacity
SELECT pg_temp.book(203, '10:00', '11:00', 'P1');
SELECT pg_temp.book(203, '10:00', '11:00', 'P2');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(203, '10:30', '11:30', 'P3')$$), NULL,
          'a third booking fits a capacity of 3');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(203, '10:45', '12:00', 'P4')$$)->>'sqlstate', '23P01',
          'a fourth at the same moment does not');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(203, '11:00', '12:00', 'P4')$$), NULL,
          'capacity counts simultaneous bookings, not all that touch the interval');
SELECT pg_temp.book(203, '12:00', '13:00', 'Q1');
SELECT pg_temp.book(203, '12:00', '13:00', 'Q2');
SELECT pg_temp.book(203, '13:00', '14:00', 'Q3');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(203, '12:30', '13:30', 'Q4')$$), NULL,
          'three overlapping neighbours that are never all at once leave room');

-- cancelled and invalid appointments free their slot; reactivation is checked
UPDATE reflexo.appointments SET status = 'cancelled' WHERE title = 'Cita Existente';
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '14:30', '15:00', 'Reemplazo')$$), NULL,
          'a cancelled appointment frees its slot');
SELECT is(pg_temp.error_of($$UPDATE reflexo.appointments SET status = 'scheduled' WHERE title = 'Cita Existente'$$)->>'sqlstate',
          '23P01', 'reactivating into a taken slot is refused');
UPDATE reflexo.appointments SET status = 'invalid' WHERE title = 'Reemplazo';
SELECT is(pg_temp.error_of($$UPDATE reflexo.appointments SET status = 'confirmed' WHERE title = 'Cita Existente'$$), NULL,
          'an invalid appointment frees its slot too');

-- updates
SELECT is(pg_temp.error_of($$UPDATE reflexo.appointments SET starts_at = starts_at + '10 min' WHERE title = 'Cita Existente'$$),
          NULL, 'an appointment does not conflict with itself');
SELECT is(pg_temp.error_of($$UPDATE reflexo.appointments SET starts_at = starts_at + '1 hour', ends_at = ends_at + '1 hour'
                               WHERE title = 'Cita Existente'$$)->>'sqlstate', '23P01',
          'moving into another booking is refused');
SELECT is(pg_temp.error_of($$UPDATE reflexo.appointments SET title = 'Renombrada' WHERE title = 'Cita Existente'$$), NULL,
          'renaming is not re-checked');

-- one statement, two clashing rows
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at) VALUES
  (202, 'A', '2026-03-10 08:00-05', '2026-03-10 09:00-05'),
  (202, 'B', '2026-03-10 08:30-05', '2026-03-10 09:30-05')$$)->>'message',
  'schedule conflict with: A (08:00 - 09:00)', 'rows of one statement see each other');

-- appointments longer than a day are found however far back they start
UPDATE reflexo.locations SET max_duration = '7 days' WHERE id = 102;
SET LOCAL reflexo.strict_validation = off;
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
VALUES (207, 'Retiro', '2026-03-12 00:00Z', '2026-03-19 00:00Z');
SET LOCAL reflexo.strict_validation = location;
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                               VALUES (207, '2026-03-15 10:00Z', '2026-03-15 11:00Z')$$)->>'message',
          'schedule conflict with: Retiro (2026-03-12 01:00 - 2026-03-19 01:00)', 'a multi-day appointment blocks its calendar');
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                               VALUES (207, '2026-03-19 00:00Z', '2026-03-19 01:00Z')$$), NULL,
          'until it ends');
-- and they keep their therapist busy on every calendar of the location, in the same scan
SET LOCAL reflexo.strict_validation = off;
UPDATE reflexo.appointments SET assigned_user_id = 'user-retiro' WHERE title = 'Retiro';
SET LOCAL reflexo.strict_validation = location;
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, assigned_user_id, starts_at, ends_at)
                               VALUES (204, 'user-retiro', '2026-03-16 10:00Z', '2026-03-16 11:00Z')$$)->>'message',
          'schedule conflict with: Retiro (2026-03-12 01:00 - 2026-03-19 01:00)', 'a multi-day appointment keeps its therapist busy elsewhere');
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, assigned_user_id, starts_at, ends_at)
                               VALUES (204, 'user-otro', '2026-03-16 10:00Z', '2026-03-16 11:00Z')$$), NULL,
          'but not other therapists on other calendars');

SELECT * FROM finish();
ROLLBACK;
