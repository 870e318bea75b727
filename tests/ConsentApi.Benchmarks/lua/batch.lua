-- Batch check, POST /api/v1/consent-checks with 100 (customer, purpose) pairs; a few bodies made up front.
local c = dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local bodies = {}
init = function()
  c.init()
  for b = 1, 20 do
    local checks = {}
    for i = 1, 100 do
      checks[i] = '{"customerId":"' .. c.loaded_customer() .. '","purpose":"p' .. math.random(1, 3) .. '"}'
    end
    bodies[b] = '{"checks":[' .. table.concat(checks, ",") .. ']}'
  end
end
request = function() return wrk.format("POST", "/api/v1/consent-checks", nil, bodies[math.random(1, #bodies)]) end
