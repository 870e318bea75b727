-- Baseline: GET /raw-lookup?id=N over the 100,000 pre-filled rows.
request = function() return wrk.format("GET", "/raw-lookup?id=" .. math.random(1, 100000)) end
