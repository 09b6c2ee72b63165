-- 20% POST /data of a ~100-byte JSON object, 80% GET /data/{id} of an existing item.
-- The store is preloaded with BENCH_ITEMS items by the runner (ids 1..BENCH_ITEMS).
-- Requests are built in init(): at load time wrk has not set the Host header yet.
local items = tonumber(os.getenv("BENCH_ITEMS") or "1000")
local body = '{"name":"widget","price":12.5,"tags":["a","b","c"],"stock":1234,"note":"a hundred bytes or so."}'
local post
init = function(args)
  post = wrk.format("POST", "/data", {["Content-Type"] = "application/json"}, body)
  math.randomseed(os.time())
end
request = function()
  if math.random(5) == 1 then
    return post
  end
  return wrk.format("GET", "/data/" .. math.random(items))
end
