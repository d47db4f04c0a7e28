--[[
ShotFill for DaVinci Resolve, Lua launcher: fill the GEN: placeholders of the current timeline.

For the free edition, which from 21.1 lists only Lua scripts under Workspace > Scripts
(and has no script dialogs since 19.1).  It does what ShotFill.py does, through
Resolve's Lua API (the same calls as the Python one, with ':'):

  gather the timeline -> snapshot JSON -> `<ShotFill's python> -m shotfill resolve run`
  -> read its progress (JSON lines) and results JSON -> import the media into a
  "ShotFill" bin, append each clip at its record frame (on the placeholder's track
  when free, else on a "ShotFill" track just above), and update each GEN: marker.

It never deletes or moves the editor's items.  It runs headless with the config's
defaults (shotfill.toml) and reports in Resolve's console (Workspace > Console).
Lua 5.1 / LuaJIT syntax only.  Installed by `shotfill resolve install`.
]]

-- BEGIN BAKED: written by `shotfill resolve install`
local SHOTFILL_PYTHON = nil
local SHOTFILL_PATHS = {}
local SHOTFILL_VERSION = nil
-- END BAKED

local unpack = unpack or table.unpack   -- Lua 5.1 / LuaJIT have unpack; 5.2+ table.unpack

local BIN_NAME = "ShotFill"
local TRACK_NAME = "ShotFill"
local PROTOCOL = 1
local NOTE_ERROR_MARK = "\n[ShotFill] "

local function log(msg)
  print("[ShotFill] " .. tostring(msg))
end

-- ------------------------------------------------------------------ JSON

local json = {}

local ARRAY = {}   -- metatable marking a table as a JSON array (so an empty one is [])

function json.array(t)
  return setmetatable(t or {}, ARRAY)
end

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
                  ["\r"] = "\\r", ["\t"] = "\\t" }

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function is_array(t)
  if getmetatable(t) == ARRAY then return true end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  if n == 0 then return false end
  for i = 1, n do
    if t[i] == nil then return false end
  end
  return true
end

function json.encode(v)
  local kind = type(v)
  if v == nil then return "null" end
  if kind == "boolean" then return v and "true" or "false" end
  if kind == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    if v == math.floor(v) and math.abs(v) < 1e15 then return string.format("%d", v) end
    return string.format("%.17g", v)
  end
  if kind == "string" then return encode_string(v) end
  if kind == "table" then
    local parts = {}
    if is_array(v) then
      for i = 1, #v do parts[#parts + 1] = json.encode(v[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for _, k in ipairs(keys) do
      parts[#parts + 1] = encode_string(k) .. ":" .. json.encode(v[k])
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return encode_string(tostring(v))
end

local function utf8_char(cp)
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then
    return string.char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40)
  end
  if cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 0x1000), 0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return string.char(0xF0 + math.floor(cp / 0x40000), 0x80 + math.floor(cp / 0x1000) % 0x40,
                     0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

function json.decode(s)
  local pos = 1
  local value

  local function fail(what)
    error("bad JSON at " .. pos .. ": " .. what)
  end

  local function skip()
    pos = s:find("[^ \t\r\n]", pos) or (#s + 1)
  end

  local function str()
    pos = pos + 1
    local out = {}
    while true do
      local c = s:sub(pos, pos)
      if c == "" then fail("unterminated string") end
      if c == '"' then pos = pos + 1; break end
      if c == "\\" then
        local e = s:sub(pos + 1, pos + 1)
        local simple = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }
        if simple[e] then
          out[#out + 1] = simple[e]; pos = pos + 2
        elseif e == "u" then
          local cp = tonumber(s:sub(pos + 2, pos + 5), 16) or fail("bad \\u escape")
          pos = pos + 6
          if cp >= 0xD800 and cp <= 0xDBFF and s:sub(pos, pos + 1) == "\\u" then
            local lo = tonumber(s:sub(pos + 2, pos + 5), 16) or 0
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
            pos = pos + 6
          end
          out[#out + 1] = utf8_char(cp)
        else
          fail("bad escape")
        end
      else
        local stop = s:find('["\\]', pos) or (#s + 1)
        out[#out + 1] = s:sub(pos, stop - 1)
        pos = stop
      end
    end
    return table.concat(out)
  end

  function value()
    skip()
    local c = s:sub(pos, pos)
    if c == "{" then
      local t = {}
      pos = pos + 1; skip()
      if s:sub(pos, pos) == "}" then pos = pos + 1; return t end
      while true do
        skip()
        if s:sub(pos, pos) ~= '"' then fail("expected a key") end
        local k = str(); skip()
        if s:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        t[k] = value(); skip()
        local d = s:sub(pos, pos); pos = pos + 1
        if d == "}" then return t end
        if d ~= "," then fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      local t = json.array()
      pos = pos + 1; skip()
      if s:sub(pos, pos) == "]" then pos = pos + 1; return t end
      while true do
        t[#t + 1] = value(); skip()
        local d = s:sub(pos, pos); pos = pos + 1
        if d == "]" then return t end
        if d ~= "," then fail("expected ',' or ']'") end
      end
    elseif c == '"' then
      return str()
    elseif s:sub(pos, pos + 3) == "true" then
      pos = pos + 4; return true
    elseif s:sub(pos, pos + 4) == "false" then
      pos = pos + 5; return false
    elseif s:sub(pos, pos + 3) == "null" then
      pos = pos + 4; return nil
    end
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not num or num == "" then fail("unexpected '" .. c .. "'") end
    pos = pos + #num
    return tonumber(num)
  end

  local result = value()
  return result
end

-- ------------------------------------------------------------------ Resolve

local function call(obj, name, ...)
  if obj == nil then return nil end
  local ok, fn = pcall(function() return obj[name] end)
  if not ok or fn == nil then return nil end
  local args = { ... }
  local ok2, result = pcall(function() return fn(obj, unpack(args)) end)
  if ok2 then return result end
  return nil
end

local function get_resolve(explicit)
  if explicit then return explicit end
  if resolve then return resolve end
  if Resolve then
    local ok, r = pcall(Resolve)
    if ok and r then return r end
  end
  if bmd and bmd.scriptapp then
    local r = bmd.scriptapp("Resolve")
    if r then return r end
  end
  return nil
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t or {}) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tonumber(a) < tonumber(b) end)
  return keys
end

local function markers_of(obj)
  local raw = call(obj, "GetMarkers") or {}
  local out = json.array()
  for _, k in ipairs(sorted_keys(raw)) do
    local m = raw[k] or {}
    out[#out + 1] = { frame = tonumber(k), color = m.color or "", name = m.name or "", note = m.note or "",
                      duration = tonumber(m.duration) or 1, custom_data = m.customData or "" }
  end
  return out
end

local function item_key(t, i)
  return tostring(t) .. ":" .. tostring(i)
end

local function gather(res, project, timeline)
  local index = {}
  local tracks = json.array()
  local count = tonumber(call(timeline, "GetTrackCount", "video")) or 0
  for t = 1, count do
    local items = json.array()
    local list = call(timeline, "GetItemListInTrack", "video", t) or {}
    for i = 1, #list do
      local item = list[i]
      local mpi = call(item, "GetMediaPoolItem")
      items[#items + 1] = {
        index = i, name = call(item, "GetName") or "",
        start = call(item, "GetStart"), ["end"] = call(item, "GetEnd"),
        left_offset = call(item, "GetLeftOffset"),
        right_offset = call(item, "GetRightOffset"),
        has_media_pool_item = mpi ~= nil,
        file_path = mpi and (call(mpi, "GetClipProperty", "File Path") or "") or "",
        media_fps = mpi and (call(mpi, "GetClipProperty", "FPS") or "") or "",
        unique_id = call(item, "GetUniqueId") or "",
        markers = markers_of(item),
      }
      index[item_key(t, i)] = item
    end
    local enabled = call(timeline, "GetIsTrackEnabled", "video", t)
    tracks[#tracks + 1] = { index = t, name = call(timeline, "GetTrackName", "video", t) or "",
                            locked = call(timeline, "GetIsTrackLocked", "video", t) and true or false,
                            enabled = enabled ~= false, items = items }
  end
  local snapshot = {
    protocol = PROTOCOL, launcher = "lua",
    product = call(res, "GetProductName") or "",
    resolve_version = call(res, "GetVersionString") or "",
    project = call(project, "GetName") or "Project",
    timeline = {
      name = call(timeline, "GetName") or "Timeline",
      rate = call(timeline, "GetSetting", "timelineFrameRate") or "",
      drop_frame = call(timeline, "GetSetting", "timelineDropFrameTimecode") or "0",
      start_frame = call(timeline, "GetStartFrame") or 0,
      start_timecode = call(timeline, "GetStartTimecode") or "",
      end_frame = call(timeline, "GetEndFrame"),
      width = call(timeline, "GetSetting", "timelineResolutionWidth"),
      height = call(timeline, "GetSetting", "timelineResolutionHeight"),
      video_tracks = tracks,
      markers = markers_of(timeline),
    },
    settings = {},
  }
  return snapshot, index
end

-- ------------------------------------------------------------------ the engine

local WINDOWS = package.config:sub(1, 1) == "\\"

local function quote(arg)
  if WINDOWS then return '"' .. arg:gsub('"', '\\"') .. '"' end
  return "'" .. arg:gsub("'", "'\\''") .. "'"
end

local function read_file(path)
  local fh = io.open(path, "rb")
  if not fh then return nil end
  local data = fh:read("*a")
  fh:close()
  return data
end

local function write_file(path, data)
  local fh, err = io.open(path, "wb")
  if not fh then return false, err end
  fh:write(data)
  fh:close()
  return true
end

local function temp_dir()
  local dir = os.getenv("TMPDIR") or os.getenv("TEMP") or os.getenv("TMP")
  if not dir or dir == "" then dir = WINDOWS and "C:\\Windows\\Temp" or "/tmp" end
  return (dir:gsub("[/\\]$", ""))
end

local function engine_command(command, snap, out, err)
  local sep = WINDOWS and ";" or ":"
  local paths = {}
  for _, p in ipairs(SHOTFILL_PATHS) do paths[#paths + 1] = p end
  local existing = os.getenv("PYTHONPATH")
  if existing and existing ~= "" then paths[#paths + 1] = existing end
  local args = { quote(SHOTFILL_PYTHON), "-m", "shotfill", "resolve", command, "--in", quote(snap),
                 "--out", quote(out) }
  local line = table.concat(args, " ") .. " 2>" .. quote(err)
  if WINDOWS then
    return 'set "PYTHONHOME=" && set "PYTHONIOENCODING=utf-8" && set "PYTHONPATH=' .. table.concat(paths, sep)
      .. '" && ' .. line
  end
  return "env -u PYTHONHOME PYTHONIOENCODING=utf-8 PYTHONPATH=" .. quote(table.concat(paths, sep)) .. " " .. line
end

local function show_progress(line)
  if line == nil or line:match("^%s*$") then return end
  local ok, ev = pcall(json.decode, line)
  if not ok or type(ev) ~= "table" then
    log(line)
    return
  end
  if ev.event == "start" then
    log(tostring(ev.placeholders) .. " placeholder(s) to fill, " .. tostring(ev.done) .. " already filled")
  elseif ev.event == "progress" then
    local n = ev.of and ("[" .. tostring(ev.n) .. "/" .. tostring(ev.of) .. "] ") or ""
    log(n .. tostring(ev.id) .. " " .. tostring(ev.stage) .. " " .. tostring(ev.detail or ""))
  elseif ev.event == "warning" then
    log("warning: " .. tostring(ev.message))
  elseif ev.event == "error" then
    log("error: " .. tostring(ev.message))
  end
end

local function run_engine(command, snapshot, workdir)
  if not SHOTFILL_PYTHON or not read_file(SHOTFILL_PYTHON) then
    return { ok = false, error = "ShotFill's Python (" .. tostring(SHOTFILL_PYTHON) .. ") was not found; "
      .. "install the launcher again with `shotfill resolve install`" }
  end
  local stamp = tostring(os.time()) .. "-" .. tostring(math.random(100000, 999999))
  local base = workdir .. (WINDOWS and "\\" or "/") .. "shotfill-" .. stamp
  local snap, out, err = base .. "-snapshot.json", base .. "-" .. command .. ".json", base .. "-stderr.txt"
  local ok, werr = write_file(snap, json.encode(snapshot))
  if not ok then return { ok = false, error = "cannot write " .. snap .. ": " .. tostring(werr) } end
  local pipe = io.popen(engine_command(command, snap, out, err), "r")
  if not pipe then return { ok = false, error = "cannot start ShotFill's engine" } end
  for line in pipe:lines() do show_progress(line) end
  pipe:close()
  local data = read_file(out)
  local tail = read_file(err) or ""
  os.remove(snap)
  os.remove(err)
  if not data then
    return { ok = false, error = "the ShotFill engine stopped: " .. tail:sub(-3000) }
  end
  os.remove(out)
  local okd, report = pcall(json.decode, data)
  if not okd then return { ok = false, error = "cannot read the engine's report: " .. tostring(report) } end
  return report
end

-- ------------------------------------------------------------------ placing

local function norm(path)
  path = tostring(path or "")
  if WINDOWS then path = path:gsub("/", "\\"):lower() end
  return path
end

local function shotfill_bin(pool)
  local root = pool:GetRootFolder()
  for _, folder in ipairs(call(root, "GetSubFolderList") or {}) do
    if call(folder, "GetName") == BIN_NAME then return folder end
  end
  return pool:AddSubFolder(root, BIN_NAME)
end

local function import_media(pool, paths)
  local found = {}
  local folder = shotfill_bin(pool)
  if not folder then return found end
  for _, clip in ipairs(call(folder, "GetClipList") or {}) do
    found[norm(call(clip, "GetClipProperty", "File Path"))] = clip
  end
  local todo = {}
  for _, p in ipairs(paths) do
    if not found[norm(p)] then todo[#todo + 1] = p end
  end
  if #todo > 0 then
    local previous = call(pool, "GetCurrentFolder")
    pool:SetCurrentFolder(folder)
    for _, clip in ipairs(pool:ImportMedia(todo) or {}) do
      found[norm(call(clip, "GetClipProperty", "File Path"))] = clip
    end
    if previous then pool:SetCurrentFolder(previous) end
  end
  return found
end

local function range_free(timeline, track, s0, s1)
  for _, item in ipairs(call(timeline, "GetItemListInTrack", "video", track) or {}) do
    local a, b = call(item, "GetStart"), call(item, "GetEnd")
    if a and b and a < s1 and s0 < b then return false end
  end
  return true
end

local function track_names(timeline)
  local names = {}
  local count = tonumber(call(timeline, "GetTrackCount", "video")) or 0
  for i = 1, count do names[i] = call(timeline, "GetTrackName", "video", i) or "" end
  return names
end

local function add_track_above(timeline, below, track_map)
  local before = track_names(timeline)
  local ok = nil
  if below < #before then ok = call(timeline, "AddTrack", "video", { index = below + 1 }) end
  local after = track_names(timeline)
  if not ok or #after ~= #before + 1 then
    if #after == #before then
      call(timeline, "AddTrack", "video")
      after = track_names(timeline)
    end
    if #after ~= #before + 1 then return nil end
  end
  local position = #after
  for i = 1, #before do
    if after[i] ~= before[i] then position = i; break end
  end
  for key, value in pairs(track_map) do
    if value >= position then track_map[key] = value + 1 end
  end
  call(timeline, "SetTrackName", "video", position, TRACK_NAME)
  return position
end

-- The other takes on the placed item, for Resolve's Take Selector; the placed one stays selected.
local function add_takes(item, r, clips)
  local paths = r.takes or {}
  if #paths < 2 then return end
  local added = 0
  local src = tonumber(r.source_in) or 0
  for i = 2, #paths do
    local clip = clips[norm(paths[i])]
    -- The same media frames as the placed take: every take of a placeholder is conformed alike.
    if clip and call(item, "AddTake", clip, src, src + r.duration) then
      added = added + 1
    else
      log("warning: could not add " .. paths[i] .. " as a take of " .. r.id)
    end
  end
  if added > 0 then call(item, "SelectTakeByIndex", 1) end
end

local function place(timeline, pool, clip, r, track_map, clips)
  local rec, dur = r.record_frame, r.duration
  local track = track_map[r.track_index] or r.track_index
  if call(timeline, "GetIsTrackLocked", "video", track) then
    return nil, "video track " .. track .. " is locked"
  end
  local target = track
  if not range_free(timeline, track, rec, rec + dur) then
    local names = track_names(timeline)
    local above = track + 1
    if above <= #names and names[above] == TRACK_NAME and range_free(timeline, above, rec, rec + dur)
        and not call(timeline, "GetIsTrackLocked", "video", above) then
      target = above
    else
      target = add_track_above(timeline, track, track_map)
      if not target then return nil, "could not add a ShotFill track above video track " .. track end
    end
  end
  -- The media frames the clip shows: the file can be longer than the hole (handles, a neighbour's own
  -- media), and endFrame is one past the last frame, as Resolve 21 takes it.
  local src = tonumber(r.source_in) or 0
  local items = pool:AppendToTimeline({ { mediaPoolItem = clip, startFrame = src, endFrame = src + dur,
                                          mediaType = 1, trackIndex = target, recordFrame = rec } }) or {}
  local item = items[1]
  local start = item and call(item, "GetStart")
  if not start then
    return nil, "Resolve did not place the clip at frame " .. rec .. " on video track " .. target
  end
  local finish = call(item, "GetEnd")
  if start ~= rec or (finish and finish ~= rec + dur) then
    log("warning: " .. r.id .. " landed at " .. tostring(start) .. "-" .. tostring(finish))
  end
  add_takes(item, r, clips or {})
  return target, nil
end

local function update_marker(owner, u)
  if not owner or not u then return false end
  if u.action == "add" then
    return owner:AddMarker(u.frame, u.color, u.name, u.note, u.duration, u.custom_data) and true or false
  end
  if u.color == u.old_color and u.note == u.old_note then
    return owner:UpdateMarkerCustomData(u.frame, u.custom_data) and true or false
  end
  owner:DeleteMarkerAtFrame(u.frame)
  if owner:AddMarker(u.frame, u.color, u.name, u.note, u.duration, u.custom_data) then return true end
  owner:AddMarker(u.frame, u.old_color ~= "" and u.old_color or u.color, u.name, u.old_note or "", u.duration,
                  u.old_custom_data or "")
  return false
end

local function failed_update(u, err)
  if not u then return nil end
  local copy = {}
  for k, v in pairs(u) do copy[k] = v end
  local start = (u.old_note or ""):find(NOTE_ERROR_MARK, 1, true)
  local old = start and u.old_note:sub(1, start - 1) or (u.old_note or "")
  copy.color = (u.old_color and u.old_color ~= "") and u.old_color or u.color
  copy.custom_data = "shotfill:failed"
  copy.note = (u.action == "add") and ("failed: " .. err) or (old .. NOTE_ERROR_MARK .. "failed: " .. err)
  return copy
end

local function apply_results(project, timeline, report, index)
  local pool = project:GetMediaPool()
  local results = report.placeholders or {}
  local owners, filled, paths = {}, {}, {}
  for _, r in ipairs(results) do
    local m = r.marker
    if m then
      owners[r.id] = (m.owner == "timeline") and timeline or index[item_key(m.track, m.item)]
    end
    if r.status == "filled" then
      filled[#filled + 1] = r
      paths[#paths + 1] = r.media_path
      -- Every take goes into the ShotFill bin; the first is placed, the others become its takes.
      for i = 2, #(r.takes or {}) do paths[#paths + 1] = r.takes[i] end
    end
  end
  table.sort(filled, function(a, b)
    if a.record_frame ~= b.record_frame then return a.record_frame < b.record_frame end
    return a.track_index < b.track_index
  end)
  local clips = (#filled > 0) and import_media(pool, paths) or {}
  local track_map, done, failed = {}, {}, {}
  for _, r in ipairs(filled) do
    local clip = clips[norm(r.media_path)]
    local target, err
    if not clip then
      err = "Resolve could not import " .. r.media_path
    else
      target, err = place(timeline, pool, clip, r, track_map, clips)
    end
    if err then
      failed[#failed + 1] = { r, err }
      update_marker(owners[r.id], failed_update(r.marker, err))
    else
      done[#done + 1] = { r, "video track " .. target }
      if r.marker and not update_marker(owners[r.id], r.marker) then
        log("warning: could not update the marker of " .. r.id)
      end
    end
  end
  for _, r in ipairs(results) do
    if r.status == "failed" then
      failed[#failed + 1] = { r, r.error or "failed" }
      update_marker(owners[r.id], r.marker)
    end
  end
  return done, failed
end

-- ------------------------------------------------------------------ main

function ShotFillMain(opts)
  opts = opts or {}
  local res = get_resolve(opts.resolve)
  if not res then
    log("cannot reach DaVinci Resolve: run this from Workspace > Scripts inside Resolve")
    return 2
  end
  local manager = call(res, "GetProjectManager")
  local project = call(manager, "GetCurrentProject")
  local timeline = call(project, "GetCurrentTimeline")
  if not timeline then
    log("open a project and a timeline first")
    return 2
  end
  local snapshot, index = gather(res, project, timeline)
  log("timeline '" .. snapshot.timeline.name .. "': " .. #snapshot.timeline.video_tracks
      .. " video track(s); ShotFill " .. tostring(SHOTFILL_VERSION))
  log("running with the config's defaults (shotfill.toml)")
  local report = run_engine("run", snapshot, opts.workdir or temp_dir())
  if not report.ok then
    log("error: " .. tostring(report.error))
    return 2
  end
  local done, failed = apply_results(project, timeline, report, index)
  for _, d in ipairs(done) do
    log("filled " .. d[1].id .. " at " .. d[1].timecode .. " on " .. d[2] .. ": " .. d[1].media_path)
  end
  for _, f in ipairs(failed) do
    log("FAILED " .. f[1].id .. " at " .. f[1].timecode .. ": " .. f[2])
  end
  log(#done .. " filled, " .. #failed .. " failed, " .. #(report.done or {}) .. " already filled earlier; media in "
      .. tostring(report.media_dir))
  if #failed > 0 then return 1 end
  return 0
end

ShotFillJSON = json

if not SHOTFILL_NO_AUTORUN then
  ShotFillMain({})
end
