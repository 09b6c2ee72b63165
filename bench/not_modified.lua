-- GET /data/{id} with If-None-Match naming the item's current ETag: every answer is a 304.
-- The runner preloads BENCH_ITEMS items (all at version 1, so one ETag fits them all) and
-- passes that ETag in BENCH_ETAG.
local items = tonumber(os.getenv("BENCH_ITEMS") or "1000")
local etag = os.getenv("BENCH_ETAG") or '"none"'
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/data/" .. math.random(items), {["If-None-Match"] = etag})
end
