-- wrk script of scripts/bench: a stateless `tools/call` of the `echo` tool, as the environment
-- says:
--   TOKEN        the bearer token (none when unset or empty);
--   TOKENS_FILE  a file of tokens, one per line, sent round-robin instead (each of wrk's
--                threads starts at its own place in the list, so together they go round it);
--   SESSION      the legacy session's `Mcp-Session-Id`;
--   BODY         the request's body instead of the `echo` call;
--   HEADERS      more headers, `Name: value` separated by `|`; `MCP-Protocol-Version` among
--                them replaces the default `2025-06-18`.
-- Every server under test answers it with a 200.
wrk.method = "POST"
wrk.body = os.getenv("BODY") or ""
if wrk.body == "" then
  wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}'
end
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
local extra = os.getenv("HEADERS")
if extra ~= nil and extra ~= "" then
  for line in string.gmatch(extra, "[^|]+") do
    local name, value = string.match(line, "^%s*([^:]+):%s*(.-)%s*$")
    if name ~= nil then
      wrk.headers[name] = value
    end
  end
end
local token = os.getenv("TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
local session = os.getenv("SESSION")
if session ~= nil and session ~= "" then
  wrk.headers["Mcp-Session-Id"] = session
end

local tokens_file = os.getenv("TOKENS_FILE")
if tokens_file ~= nil and tokens_file ~= "" then
  -- Requests made ahead, one per token: `request()` then only hands the next one out.
  local requests = {}
  local next_one = 1
  local threads = 0

  function setup(thread)
    thread:set("first", threads)
    threads = threads + 1
  end

  function init(args)
    local list = {}
    for line in io.lines(tokens_file) do
      if line ~= "" then
        list[#list + 1] = line
      end
    end
    for i, tok in ipairs(list) do
      wrk.headers["Authorization"] = "Bearer " .. tok
      requests[i] = wrk.format()
    end
    -- Threads start spread over the list (`first` is set by `setup`).
    next_one = ((first or 0) * math.floor(#requests / 2)) % #requests + 1
  end

  function request()
    local r = requests[next_one]
    next_one = next_one % #requests + 1
    return r
  end
end
