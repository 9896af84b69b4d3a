-- A bearer-authenticated resource call, cycling through this thread's access tokens.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
COUNTERS = {}
local tokens, n = {}, 0

function init(args)
  tokens = thread_tokens()
end

function request()
  n = n + 1
  local token = tokens[(n % math.max(#tokens, 1)) + 1] or "none"
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token })
end
