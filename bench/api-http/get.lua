-- wrk: GET the path given, with the bearer token given: wrk ... -- TOKEN
local token
function init(args)
	token = args[1]
end
function request()
	return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. token})
end
