-- requests.lua: wrk replays pre-signed requests, each at most once per
-- thread pass. File lines are "PATH?QUERY<TAB>BODY", optionally followed by
-- "<TAB>Name: value<TAB>Name: value..." (extra headers, e.g. the Kit
-- x-sign, x-timestamp, x-nonce); thread i of n takes
-- lines i, i+n, ... EXPECT says which answers are good, all HTTP 200:
--   query  resultCode 000000 with appInfo (the access data the marketplace
--          polls for; 000004 "still provisioning" is not good here)
--   new    resultCode 000004 or 000000, each counted on its own line
--   ok     resultCode 000000 (Kit calls)
-- Anything else is counted unexpected, and the first three are printed.
--
-- usage: wrk -s bench/requests.lua URL -- FILE NTHREADS EXPECT

local threads = {}
local counter = 0

function setup(thread)
	thread:set("tid", counter)
	counter = counter + 1
	table.insert(threads, thread)
end

function init(args)
	local nthreads = tonumber(args[2])
	expect = args[3]
	if expect ~= "query" and expect ~= "new" and expect ~= "ok" then
		error("requests.lua: EXPECT must be query, new or ok, not " .. tostring(expect))
	end
	local headers = { ["Content-Type"] = "application/json;charset=utf8" }
	local n = 0
	reqs = {}
	for line in io.lines(args[1]) do
		if n % nthreads == tid then
			local fields = {}
			for f in (line .. "\t"):gmatch("([^\t]*)\t") do
				fields[#fields + 1] = f
			end
			local h = {}
			for k, v in pairs(headers) do
				h[k] = v
			end
			for i = 3, #fields do
				local colon = fields[i]:find(":", 1, true)
				h[fields[i]:sub(1, colon - 1)] = fields[i]:sub(colon + 2)
			end
			reqs[#reqs + 1] = wrk.format("POST", fields[1], h, fields[2])
		end
		n = n + 1
	end
	idx = 0
	ok = 0
	bad = 0
	c0 = 0
	c4 = 0
	wrapped = 0
end

function request()
	idx = idx + 1
	if idx > #reqs then
		idx = 1
		wrapped = wrapped + 1
	end
	return reqs[idx]
end

local function has(body, s)
	return body:find(s, 1, true) ~= nil
end

function response(status, headers, body)
	local good = false
	if status == 200 then
		if has(body, '"resultCode":"000000"') then
			c0 = c0 + 1
			good = expect ~= "query" or has(body, '"appInfo":{')
		elseif has(body, '"resultCode":"000004"') then
			c4 = c4 + 1
			good = expect == "new"
		end
	end
	if good then
		ok = ok + 1
	else
		bad = bad + 1
		if bad <= 3 then
			io.stderr:write("unexpected answer: " .. status .. " " .. body .. "\n")
		end
	end
end

function done(summary, latency, requests)
	local tok, tbad, twrap, t0, t4 = 0, 0, 0, 0, 0
	for _, t in ipairs(threads) do
		tok = tok + t:get("ok")
		tbad = tbad + t:get("bad")
		twrap = twrap + t:get("wrapped")
		t0 = t0 + t:get("c0")
		t4 = t4 + t:get("c4")
	end
	io.write(string.format("answers: good=%d unexpected=%d wrapped=%d\n", tok, tbad, twrap))
	io.write(string.format("codes: 000000=%d 000004=%d\n", t0, t4))
end
