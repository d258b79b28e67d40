-- wrk script for the memory-growth run of tests/bench/run: cycles through
-- the request paths given in WRK_PATHS (separated by spaces), so that one
-- run exercises renders at several sizes and the refusal paths (404, 401).
-- WRK_HEADER, when set, is sent as one "Name: value" header.
local paths = {}
for p in string.gmatch(os.getenv("WRK_PATHS") or "/", "%S+") do
    paths[#paths + 1] = p
end
local i = 0
local header = os.getenv("WRK_HEADER")
if header then
    local name, value = string.match(header, "^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
end

function request()
    i = i % #paths + 1
    return wrk.format(nil, paths[i])
end
