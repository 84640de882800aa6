-- ghl-sim seed for the many-locations run: :n locations, each with two
-- calendars open on weekdays (each with its therapist) and a Private
-- Integration Token token-<id>.
SELECT jsonb_build_object('locations', jsonb_agg(jsonb_build_object(
         'id', id, 'name', 'Sede ' || i, 'timezone', 'America/Lima',
         'tokens', jsonb_build_array(jsonb_build_object('access_token', 'token-' || id, 'kind', 'pit')),
         'calendars', jsonb_build_array(
           jsonb_build_object('id', id || 'Fisio', 'name', 'Fisioterapia', 'isActive', true,
                              'slotDuration', 60, 'slotDurationUnit', 'mins', 'appoinmentPerSlot', 1,
                              'openHours', hours, 'teamMembers', jsonb_build_array(jsonb_build_object(
                                'userId', id || 'User1', 'priority', 0.5, 'isPrimary', true))),
           jsonb_build_object('id', id || 'Eval', 'name', 'Evaluación', 'isActive', true,
                              'slotDuration', 30, 'slotDurationUnit', 'mins', 'appoinmentPerSlot', 2,
                              'openHours', hours, 'teamMembers', jsonb_build_array(jsonb_build_object(
                                'userId', id || 'User2', 'priority', 0.5, 'isPrimary', true))))) ORDER BY i))
FROM generate_series(1, :n) i,
     LATERAL (SELECT 'BenchLocation' || lpad(i::text, 7, '0') AS id) l,
     LATERAL (SELECT '[{"daysOfTheWeek": [1, 2, 3, 4, 5], "hours": [
                        {"openHour": 8, "openMinute": 0, "closeHour": 13, "closeMinute": 0},
                        {"openHour": 14, "openMinute": 0, "closeHour": 20, "closeMinute": 0}]}]'::jsonb AS hours) h;
