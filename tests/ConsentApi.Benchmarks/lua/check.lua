-- Single consent check, GET /api/v1/customers/{id}/consents/{purpose}, a different loaded customer each request.
local c = dofile(os.getenv("BENCH_LUA") .. "/common.lua")
request = function() return wrk.format("GET", c.check_path()) end
