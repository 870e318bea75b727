-- Shared by the scenario scripts (loaded with dofile). Settings come from the environment, set by the driver:
--   BENCH_LUA       this folder
--   BENCH_CUSTOMERS how many loaded customers there are (bc-1 .. bc-N, each granted p1, p2, p3)
--   BENCH_RUN       a string unique to this wrk run, so that new customer ids never repeat
local M = {}
M.customers = tonumber(os.getenv("BENCH_CUSTOMERS") or "1000")
M.run = os.getenv("BENCH_RUN") or tostring(os.time())
M.decisions = tonumber(os.getenv("BENCH_DECISIONS") or "1")
M.counter = 0
M.json = { ["Content-Type"] = "application/json" }

math.randomseed(os.time() + (tonumber(string.sub(M.run, -6), 36) or 0))

function M.loaded_customer()
  return "bc-" .. math.random(1, M.customers)
end

function M.check_path()
  return "/api/v1/customers/" .. M.loaded_customer() .. "/consents/p" .. math.random(1, 3)
end

function M.new_customer()
  M.counter = M.counter + 1
  return "n-" .. M.run .. "-" .. M.counter
end

-- A save of n decisions (grants of p1 .. pn) for a customer nobody saved for before: its hash chain stays short.
function M.save_request(n)
  local decisions = {}
  for i = 1, n do
    decisions[i] = '{"purpose":"p' .. i .. '","granted":true,"purposeVersion":1}'
  end
  local body = '{"decisions":[' .. table.concat(decisions, ",") .. '],"source":"web","collectionPoint":"bench"}'
  return wrk.format("POST", "/api/v1/customers/" .. M.new_customer() .. "/consents", nil, body)
end

-- A collection under p1 for a loaded customer (all of them granted it).
function M.collect_request()
  local body = '{"fields":{"email":"someone-' .. math.random(1, 1000000) .. '@example.com"}}'
  return wrk.format("POST", "/api/v1/customers/" .. M.loaded_customer() .. "/data/p1", nil, body)
end

function M.init()
  for k, v in pairs(M.json) do wrk.headers[k] = v end
end

return M
