-- Data collection, POST /api/v1/customers/{id}/data/p1, for loaded customers (all granted p1).
local c = dofile(os.getenv("BENCH_LUA") .. "/common.lua")
init = function() c.init() end
request = function() return c.collect_request() end
