-- Growth: single check, GET /api/v1/customers/g-NNNNNNN/consents/pK over the BENCH_CUSTOMERS generated
-- customers (scripts/bench-growth.sql: every one granted p1..p5).
local c = dofile(os.getenv("BENCH_LUA") .. "/common.lua")
request = function()
  return wrk.format("GET", string.format("/api/v1/customers/g-%07d/consents/p%d", math.random(1, c.customers), math.random(1, 5)))
end
