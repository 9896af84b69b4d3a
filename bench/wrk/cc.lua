-- client_credentials: one token request per call, HTTP Basic client auth, form body.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
COUNTERS = { "no_token" }
no_token = 0

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")

function response(status, headers, body)
  if status == 200 and not body:find('"access_token"', 1, true) then no_token = no_token + 1 end
end
