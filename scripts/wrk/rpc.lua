-- wrk script: POST one JSON-RPC call per request.
-- Use: wrk -s scripts/wrk/rpc.lua ... -- METHOD [PARAMS_JSON]
-- and set the report to print latency percentiles.
local method = "eth_blockNumber"
local params = "[]"

function init(args)
  if #args >= 1 then method = args[1] end
  if #args >= 2 then params = args[2] end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"jsonrpc":"2.0","id":1,"method":"' .. method .. '","params":' .. params .. '}'
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"result"') then
    io.stderr:write("bad answer: " .. status .. " " .. body .. "\n")
  end
end

function done(summary, latency, requests)
  io.write(string.format("requests/s %.0f  p50 %.2fms  p99 %.2fms  errors %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
