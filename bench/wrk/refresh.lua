-- Refresh-token rotation: a per-thread queue seeded with distinct refresh tokens; request()
-- pops one, response() pushes the rotated one from the JSON body. A connection holds at most
-- one request in flight, so a thread needs at least its connections' worth of seeds; `dry`
-- counts requests sent without one (they fail), `no_token` 200s without a refresh_token.
-- With $BENCH_TOKENS_OUT set, the tokens left in the queues at the end are written there, so
-- the measured run continues the warm-up's chains (a token in flight at the end is lost).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
COUNTERS = { "dry", "no_token" }
dry, no_token = 0, 0
queue = {}
local headers = {
  ["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC"),
  ["Content-Type"] = "application/x-www-form-urlencoded",
}

function init(args)
  queue = thread_tokens()
end

function request()
  local token = table.remove(queue)
  if token == nil then
    dry = dry + 1
    token = "queue-ran-dry"
  end
  return wrk.format("POST", nil, headers, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then
    table.insert(queue, 1, token)
  elseif status == 200 then
    no_token = no_token + 1
  end
end

function on_done(threads)
  local path = os.getenv("BENCH_TOKENS_OUT")
  if not path then return end
  local out = assert(io.open(path, "w"))
  for _, t in ipairs(threads) do
    for _, token in ipairs(t:get("queue") or {}) do out:write(token, "\n") end
  end
  out:close()
end
