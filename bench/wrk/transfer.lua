-- Keep-alive load of transfer commands for wrk (bench/run.py, phase 1).
-- BENCH_IDS: file with one call_control_id per line (calls created beforehand; requests
-- rotate over them). BENCH_BODY: file with the JSON body to post. BENCH_TOKEN: bearer token.
-- Every request is pre-formatted in init, so wrk spends no Lua time per request.
local reqs = {}
local i = 0

init = function(args)
  local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
  local body = f:read("*a")
  f:close()
  local headers = {
    ["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "k"),
    ["Content-Type"] = "application/json",
  }
  for id in io.lines(os.getenv("BENCH_IDS")) do
    if #id > 0 then
      reqs[#reqs + 1] = wrk.format("POST", "/v2/calls/" .. id .. "/actions/transfer", headers, body)
    end
  end
  assert(#reqs > 0, "BENCH_IDS has no ids")
end

request = function()
  i = i % #reqs + 1
  return reqs[i]
end
