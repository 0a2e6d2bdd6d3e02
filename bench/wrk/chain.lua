-- Complete calls for wrk (bench/run.py, phases 2 and 4): each connection creates an inbound
-- call (POST /_emulator/calls), then transfers it (POST .../actions/transfer), then the next.
-- Stops by itself after BENCH_CALLS accepted transfers (per wrk thread: run with -t1), and
-- wrk's -d bounds the time. BENCH_CREATE_BODY / BENCH_TRANSFER_BODY: files with the bodies.
--
-- wrk calls response() and then request() for the same connection, so the call a connection
-- just created is the last one pushed on the stack: each connection transfers its own call.
target = tonumber(os.getenv("BENCH_CALLS") or "1000")
created, transferred, failed, fillers = 0, 0, 0, 0
local pending = {}
local create_req, transfer_body, filler, headers
local verified = false

local function slurp(name)
  local f = assert(io.open(os.getenv(name), "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

init = function(args)
  headers = {
    ["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "k"),
    ["Content-Type"] = "application/json",
  }
  create_req = wrk.format("POST", "/_emulator/calls", headers, slurp("BENCH_CREATE_BODY"))
  transfer_body = slurp("BENCH_TRANSFER_BODY")
  filler = wrk.format("GET", "/_emulator/health", {})
end

request = function()
  if not verified then
    -- wrk calls request() once before any connection, to check the script (thread 1 only:
    -- always run this script with -t1); that request is never sent, so it is not counted.
    verified = true
    return create_req
  end
  local id = table.remove(pending)
  if id then
    return wrk.format("POST", "/v2/calls/" .. id .. "/actions/transfer", headers, transfer_body)
  end
  if created < target then
    created = created + 1
    return create_req
  end
  fillers = fillers + 1 -- only while the last transfers are in flight (at most one per connection)
  return filler
end

-- wrk's main thread sleeps for the whole -d duration whatever the threads do; SIGINT (its
-- Ctrl-C handler) ends that sleep, so the run, and the measured duration, end here.
function finish()
  wrk.thread:stop()
  local f = io.open("/proc/self/stat", "r")
  if f then
    local pid = f:read("*a"):match("^(%d+)")
    f:close()
    if pid then
      -- system() ignores SIGINT while it waits, so the signal is sent just after it returns.
      os.execute("(sleep 0.05; kill -INT " .. pid .. ") &")
    end
  end
end

response = function(status, hdrs, body)
  if status == 201 then
    local id = body:match('"call_control_id":"([^"]+)"')
    if id then
      pending[#pending + 1] = id
    else
      failed = failed + 1
    end
  elseif status == 200 then
    if body:find('"result":"ok"', 1, true) then
      transferred = transferred + 1
      if transferred >= target then
        finish()
      end
    end
  else
    failed = failed + 1
  end
end

local threads = {}

setup = function(thread)
  threads[#threads + 1] = thread
end

done = function(summary, latency, requests)
  local c, t, f, n = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    c = c + thread:get("created")
    t = t + thread:get("transferred")
    f = f + thread:get("failed")
    n = n + thread:get("fillers")
  end
  io.write(string.format("CHAIN created=%d transferred=%d failed=%d fillers=%d\n", c, t, f, n))
end
