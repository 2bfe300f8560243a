-- requests.lua: wrk replays pre-signed requests, each at most once per
-- thread pass. File lines are "PATH?QUERY<TAB>BODY", optionally followed by
-- "<TAB>Name: value<TAB>Name: value..." (extra headers, e.g. the Kit
-- x-sign, x-timestamp, x-nonce); thread i of n takes
-- lines i, i+n, ... An answer counts as good when it is HTTP 200 with
-- resultCode 000000 (or 000004, accepted).
--
-- usage: wrk -s bench/requests.lua URL -- FILE NTHREADS

local threads = {}
local counter = 0

function setup(thread)
	thread:set("tid", counter)
	counter = counter + 1
	table.insert(threads, thread)
end

function init(args)
	local nthreads = tonumber(args[2])
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

function response(status, headers, body)
	if status == 200 and (body:find('"resultCode":"000000"', 1, true) or
	    body:find('"resultCode":"000004"', 1, true)) then
		ok = ok + 1
	else
		bad = bad + 1
		if bad <= 3 then
			io.stderr:write("unexpected answer: " .. status .. " " .. body .. "\n")
		end
	end
end

function done(summary, latency, requests)
	local tok, tbad, twrap = 0, 0, 0
	for _, t in ipairs(threads) do
		tok = tok + t:get("ok")
		tbad = tbad + t:get("bad")
		twrap = twrap + t:get("wrapped")
	end
	io.write(string.format("answers: good=%d unexpected=%d wrapped=%d\n", tok, tbad, twrap))
end
