-- wrk script for the explorer's HTTP API.
-- Use: wrk -s scripts/wrk/explorer.lua URL -- PATH
--   or wrk -s scripts/wrk/explorer.lua URL -- mix HEAD_HEIGHT HASHES_FILE
-- "mix" draws each request from a read mix of an explorer's visitors:
-- home page polls (stats, latest blocks, latest transactions), blocks and
-- transactions by id, validators, the leaderboard and address pages.
local path = "/api/stats"
local mix = false
local head = 1
local hashes = {}
local addrs = {}

function init(args)
  if args[1] == "mix" then
    mix = true
    head = tonumber(args[2])
    for line in io.lines(args[3]) do
      local h, from = line:match("(%S+)%s+(%S+)")
      table.insert(hashes, h)
      table.insert(addrs, from)
    end
    math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  elseif args[1] then
    path = args[1]
  end
end

local function pick()
  local r = math.random(100)
  if r <= 20 then return "/api/stats" end
  if r <= 40 then return "/api/blocks?limit=20" end
  if r <= 55 then return "/api/txs?limit=20" end
  if r <= 65 then return "/api/leaderboard?limit=50" end
  if r <= 72 then return "/api/validators" end
  if r <= 85 then return "/api/blocks/" .. math.random(math.max(0, head - 200), head) end
  if r <= 97 then return "/api/tx/" .. hashes[math.random(#hashes)] end
  return "/api/address/" .. addrs[math.random(#addrs)] .. "?limit=25"
end

function request()
  if mix then return wrk.format("GET", pick()) end
  return wrk.format("GET", path)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("bad answer: " .. status .. " " .. body .. "\n")
  end
end

function done(summary, latency, requests)
  io.write(string.format("requests/s %.0f  p50 %.2fms  p95 %.2fms  p99 %.2fms  errors %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
