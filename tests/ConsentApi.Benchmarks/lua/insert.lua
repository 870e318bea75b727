-- Baseline: POST /raw-insert (no body).
wrk.method = "POST"
