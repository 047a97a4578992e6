-- wrk script of `scripts/bench --storm`: `tools/call` requests whose tokens name a new, unknown
-- `kid` each time (the rest of the token is a real one's: the kid is refused before any
-- signature check). Paced by $STORM_DELAY_MS per connection; each thread stops after
-- $STORM_COUNT / threads requests.
local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

local function b64url(data)
  local out = {}
  for i = 1, #data, 3 do
    local a, b, c = data:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = 4
    if c == nil then chars = 3 end
    if b == nil then chars = 2 end
    for j = 1, chars do
      local shift = 18 - 6 * (j - 1)
      local index = math.floor(n / 2 ^ shift) % 64
      out[#out + 1] = b64chars:sub(index + 1, index + 1)
    end
  end
  return table.concat(out)
end

local rest = os.getenv("STORM_REST")
local delay_ms = tonumber(os.getenv("STORM_DELAY_MS") or "1")
local quota = 0
local sent = 0
local done = 0
thread_id = 0
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

-- Each thread's share of $STORM_COUNT ($STORM_THREADS: wrk's -t, which a thread cannot see).
function init(args)
  local total = tonumber(os.getenv("STORM_COUNT") or "10000")
  quota = math.floor(total / tonumber(os.getenv("STORM_THREADS") or "1"))
end

wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"

function request()
  sent = sent + 1
  local header = '{"alg":"RS256","typ":"at+jwt","kid":"storm-' .. thread_id .. "-" .. sent .. '"}'
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Authorization"] = "Bearer " .. b64url(header) .. "." .. rest
  return wrk.format(nil, nil, headers, nil)
end

function delay()
  return delay_ms
end

function response(status, headers, body)
  done = done + 1
  if done >= quota then
    wrk.thread:stop()
  end
end
