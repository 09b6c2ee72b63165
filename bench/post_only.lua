-- POST /data of a ~60-byte object. Built in init(): at load time wrk has no Host header yet.
local body = '{"name":"item","value":12345,"pad":"xxxxxxxxxxxxxxxxxxxx"}'
local post
init = function(args)
  post = wrk.format("POST", "/data", {["Content-Type"] = "application/json"}, body)
end
request = function() return post end
