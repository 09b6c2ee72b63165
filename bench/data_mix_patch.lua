-- The data mix with PATCH: 20% POST /data, 20% PATCH /data/{id} (JSON Merge Patch of one
-- member), 60% GET /data/{id}, over the BENCH_ITEMS preloaded items.
local items = tonumber(os.getenv("BENCH_ITEMS") or "1000")
local body = '{"name":"widget","price":12.5,"tags":["a","b","c"],"stock":1234,"note":"a hundred bytes or so."}'
local post
init = function(args)
  post = wrk.format("POST", "/data", {["Content-Type"] = "application/json"}, body)
  math.randomseed(os.time())
end
request = function()
  local dice = math.random(5)
  if dice == 1 then
    return post
  end
  local id = math.random(items)
  if dice == 2 then
    return wrk.format("PATCH", "/data/" .. id, {["Content-Type"] = "application/merge-patch+json"},
                      '{"stock":' .. math.random(10000) .. ',"note":null}')
  end
  return wrk.format("GET", "/data/" .. id)
end
