-- The guard's messages in Spanish through the extension's own catalogue
-- (lc_messages = es_PE.UTF-8), and in English otherwise.
BEGIN;
\ir fixtures.psql
SELECT plan(7);

SELECT pg_temp.book(201, '14:00', '15:00', 'Cita Existente');
SET LOCAL lc_messages = 'es_PE.UTF-8';
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '14:30', '15:30')$$) ->> 'message',
          'Conflicto de horario con: Cita Existente (14:00 - 15:00)', 'an overlap reads in Spanish');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '16:00', '16:05')$$) - 'sqlstate' - 'constraint',
          '{"message": "La duración mínima es 15 minutos",
            "detail": "La cita dura 5 minutos; la sede 101 exige al menos 15 minutos.",
            "hint": "Haga la cita más larga."}', 'so does the minimum duration, with detail and hint');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '13:00', '14:00')$$) ->> 'message',
          'Horario fuera del horario de trabajo: martes 08:00-13:00, 14:00-20:00', 'and working hours, with the day''s name');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(205, '09:00', '10:00')$$) ->> 'message',
          'El calendario cal-draft no existe o no está disponible', 'and an unavailable calendar, named as GHL names it (the Django service''s words)');
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                               VALUES (203, '2026-03-10 09:00-05', '2026-03-11 11:00-05')$$) - 'sqlstate' - 'constraint',
          '{"message": "La duración máxima es 24 horas",
            "detail": "La cita dura 26 horas; la sede 101 permite como máximo 24 horas.",
            "hint": "Acorte la cita, o aumente la duración máxima (max_duration) de la sede."}',
          'and the maximum duration');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '14:30', '15:30')$$) ->> 'sqlstate', '23P01',
          'the SQLSTATE does not change with the language');
SET LOCAL lc_messages = 'C';
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '14:30', '15:30')$$) ->> 'message',
          'schedule conflict with: Cita Existente (14:00 - 15:00)', 'the message ids are English');

SELECT * FROM finish();
ROLLBACK;
