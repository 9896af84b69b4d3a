-- RFC 7662 introspection: the client authenticates with Basic, form body token=...; a 200
-- whose body does not say "active": true is counted in `inactive`.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
COUNTERS = { "inactive" }
inactive = 0
local tokens, n = {}, 0
local headers = {
  ["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC"),
  ["Content-Type"] = "application/x-www-form-urlencoded",
}

function init(args)
  tokens = thread_tokens()
end

function request()
  n = n + 1
  local token = tokens[(n % math.max(#tokens, 1)) + 1] or "none"
  return wrk.format("POST", nil, headers, "token=" .. token)
end

function response(status, headers, body)
  if status == 200 and not body:find('"active":%s*true') then inactive = inactive + 1 end
end
