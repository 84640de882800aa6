-- wrk script: each thread posts its own share of the signed webhooks in
-- requests.tsv (signature TAB body per line), in order, without repeating
-- one unless it runs out (then they come back as duplicates).
local requests = {}
local next_one = 1

function setup(thread)
  thread:set("id", thread_count or 0)
  thread_count = (thread_count or 0) + 1
end

function init(args)
  local threads = tonumber(args[1]) or 1
  local n = 0
  for line in io.lines(args[2] or "requests.tsv") do
    if n % threads == id then
      local signature, body = line:match("^([^\t]+)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", "/webhooks/ghl",
        { ["Content-Type"] = "application/json", ["x-ghl-signature"] = signature }, body)
    end
    n = n + 1
  end
end

function request()
  local r = requests[next_one]
  next_one = next_one % #requests + 1
  return r
end
