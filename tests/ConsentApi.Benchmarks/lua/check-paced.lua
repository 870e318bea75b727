-- The single check, each connection pausing BENCH_DELAY_MS between requests: a lighter, steadier load for p99.
local c = dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
request = function() return wrk.format("GET", c.check_path()) end
delay = function() return pause end
