-- GET /data/{id} uniformly over ids 1..BENCH_ITEMS.
local items = tonumber(os.getenv("BENCH_ITEMS") or "1000")
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/data/" .. math.random(items))
end
