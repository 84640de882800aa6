-- wrk: POST /api/ghl/citas/, each request a new hour-long slot inside
-- 08:00-18:00 in Lima (both services' working hours), from 2030 on, so that
-- no two requests overlap.  By default every wrk thread books its own
-- calendar (cal-<thread>): the hot-calendar case, where the guard serializes
-- bookings by design.  With "spread", each of the two threads books eight
-- calendars in turn, so requests spread over the location's sixteen, as a
-- clinic's receptionists book its therapists.  wrk ... -- TOKEN [spread]
local counter = 0
local threads = 0
function setup(thread)
	thread:set("number", threads)
	threads = threads + 1
end
local token
local spread = false
function init(args)
	token = args[1]
	spread = args[2] == "spread"
end
function request()
	counter = counter + 1
	local calendar, slot = number, counter
	if spread then
		calendar = number * 8 + counter % 8
		slot = math.floor(counter / 8)
	end
	local start = os.time{year = 2030, month = 1, day = 1, hour = 13} + math.floor(slot / 10) * 86400 + (slot % 10) * 3600
	local body = string.format('{"title": "Bench %d", "contact_id": "bench", "ghl_calendar_id": "cal-%d", '
		.. '"start_time": "%s", "end_time": "%s"}', counter, calendar,
		os.date("!%Y-%m-%dT%H:%M:%SZ", start), os.date("!%Y-%m-%dT%H:%M:%SZ", start + 3600))
	return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

-- the first refusal is shown, so that a benchmark of refusals is noticed
local shown = false
function response(status, headers, body)
	if status >= 300 and not shown then
		shown = true
		io.stderr:write("refused: " .. status .. " " .. body .. "\n")
	end
end
