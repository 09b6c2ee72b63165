-- POST /data of a 100-byte object (the durable store's benchmark; Redis gets a 100-byte SET).
local body = '{"name":"item","value":12345,"pad":"' .. string.rep("x", 62) .. '"}'
local post
init = function(args)
  post = wrk.format("POST", "/data", {["Content-Type"] = "application/json"}, body)
end
request = function() return post end
