-- Consent save of BENCH_DECISIONS decisions, POST /api/v1/customers/{id}/consents, a new customer each request.
local c = dofile(os.getenv("BENCH_LUA") .. "/common.lua")
init = function() c.init() end
request = function() return c.save_request(c.decisions) end
