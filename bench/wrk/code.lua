-- The authorization-code + PKCE (S256) flow: GET the authorization endpoint with a signed-in
-- session of a user who already consented (302 with `code` in Location), then POST the token
-- endpoint with the code and the fixed code_verifier. Codes wait in a per-thread queue, so any
-- connection may redeem any code; `flows` counts token responses carrying an access_token.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
COUNTERS = { "flows", "no_code", "no_token" }
flows, no_code, no_token = 0, 0, 0
local codes = {}
local authorize_path = os.getenv("BENCH_AUTHORIZE_PATH")
local token_path = os.getenv("BENCH_TOKEN_PATH")
local authorize_headers = { ["Cookie"] = os.getenv("BENCH_COOKIE") }
local token_headers = {
  ["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC"),
  ["Content-Type"] = "application/x-www-form-urlencoded",
}
local redeem_tail = "&redirect_uri=" .. os.getenv("BENCH_REDIRECT_URI_ENC")
  .. "&code_verifier=" .. os.getenv("BENCH_VERIFIER")

local function urldecode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

function request()
  local code = table.remove(codes)
  if code == nil then
    return wrk.format("GET", authorize_path, authorize_headers)
  end
  local body = "grant_type=authorization_code&code=" .. urlencode(code) .. redeem_tail
  return wrk.format("POST", token_path, token_headers, body)
end

function response(status, headers, body)
  if status == 302 or status == 303 then
    local location = headers["Location"] or headers["location"] or ""
    local code = location:match("[?&]code=([^&#]+)")
    if code then
      table.insert(codes, 1, urldecode(code))
    else
      no_code = no_code + 1
    end
  elseif status == 200 then
    if body:find('"access_token"', 1, true) then
      flows = flows + 1
    else
      no_token = no_token + 1
    end
  end
end
