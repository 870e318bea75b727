-- Mixed workload: 90% single checks, 8% collections, 2% saves of one decision.
local c = dofile(os.getenv("BENCH_LUA") .. "/common.lua")
init = function() c.init() end
request = function()
  local r = math.random()
  if r < 0.90 then return wrk.format("GET", c.check_path()) end
  if r < 0.98 then return c.collect_request() end
  return c.save_request(1)
end
