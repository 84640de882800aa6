-- reflexo.upsert_ghl_calendars: GHL's calendar list into reflexo.calendars.
BEGIN;
\ir fixtures.psql
SELECT plan(12);

SELECT results_eq($$SELECT ghl_calendar_id, action FROM reflexo.upsert_ghl_calendars('loc-lima',
  '{"calendars": [
     {"id": "cal-fisio", "name": "Fisioterapia", "isActive": true},
     {"id": "cal-nueva", "name": "Terapia grupal", "description": "Grupos", "appoinmentPerSlot": 4,
      "slotDuration": 1, "slotDurationUnit": "hours",
      "openHours": [{"daysOfTheWeek": [1, 2, 3, 4, 5], "hours": [{"openHour": 9, "openMinute": 0, "closeHour": 17, "closeMinute": 0}]}]},
     {"id": "cal-draft", "name": "Borrador", "isActive": false}]}') ORDER BY 1$$,
  $$VALUES ('cal-draft', 'unchanged'), ('cal-fisio', 'unchanged'), ('cal-nueva', 'created'),
           ('cal-pilates', 'deactivated'), ('cal-sala2', 'deactivated')$$,
  'GHL''s list response creates, keeps and deactivates calendars');
SELECT is((SELECT capacity FROM reflexo.calendars WHERE ghl_calendar_id = 'cal-nueva'), 4, 'appoinmentPerSlot is the capacity');
SELECT is((SELECT open_hours::text FROM reflexo.calendars WHERE ghl_calendar_id = 'cal-nueva'), 'mon-fri 09:00-17:00',
          'openHours are the open hours');
SELECT is((SELECT slot_duration FROM reflexo.calendars WHERE ghl_calendar_id = 'cal-nueva'), '1 hour'::interval,
          'slotDuration and its unit are the slot duration');
SELECT is((SELECT open_hours::text FROM reflexo.calendars WHERE ghl_calendar_id = 'cal-fisio'), NULL,
          'no openHours means the location''s hours');
SELECT is((SELECT is_active FROM reflexo.calendars WHERE ghl_calendar_id = 'cal-sala2'), false,
          'a calendar missing from GHL''s list is deactivated');
SELECT is((SELECT count(*)::int FROM reflexo.calendars WHERE location_id = 101), 5, 'and never deleted');

SELECT results_eq($$SELECT action FROM reflexo.upsert_ghl_calendars('loc-lima',
                      '[{"id": "cal-sala2", "name": "Sala dos", "isActive": true}]', complete => false)$$,
                  ARRAY['updated'], 'an array of calendars works too, and complete => false deactivates nothing');
SELECT is((SELECT name || ' ' || is_active FROM reflexo.calendars WHERE ghl_calendar_id = 'cal-sala2'), 'Sala dos true',
          'an update renames and reactivates');
SELECT throws_ok($$SELECT * FROM reflexo.upsert_ghl_calendars('loc-nada', '[]')$$, '22023',
                 'unknown GHL location loc-nada', 'an unknown location is refused');
SELECT throws_ok($$SELECT * FROM reflexo.upsert_ghl_calendars('loc-madrid', '[{"id": "cal-fisio", "name": "x"}]')$$, '22023',
                 'GHL calendar cal-fisio belongs to another location', 'a calendar cannot move between locations');
SELECT throws_ok($$SELECT * FROM reflexo.upsert_ghl_calendars('loc-lima', '[{"name": "sin id"}]')$$, '22023',
                 'GHL calendar has no "id"', 'a calendar without id is malformed');

SELECT * FROM finish();
ROLLBACK;
