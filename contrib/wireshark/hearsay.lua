-- Wireshark dissector for hearsay's wire protocol (docs/protocol.md).
--
-- hearsay peers talk inside TLS 1.3, so Wireshark needs the TLS secrets to see anything: start
-- hearsayd with SSLKEYLOGFILE=FILE and give Wireshark that file (tls.keylog_file). Then:
--
--   tshark -r CAPTURE -X lua_script:contrib/wireshark/hearsay.lua \
--          -o tls.keylog_file:FILE -Y hearsay
--
-- The decrypted application data reaches this dissector in two ways:
--   * the "hearsay" heuristic on TLS, which recognises a frame header (a known command, a
--     length within that command's limit, the magic if the "magic" preference is set); this
--     finds hearsay on any port that Wireshark decodes as TLS. A port other than 18733 must be
--     decoded as TLS first: -d tcp.port==PORT,tls;
--   * the "ports" preference (default 18733): TCP on these ports is decoded as TLS, and TLS
--     on them as hearsay.
--
-- What it shows: each frame's header (hearsay.magic, hearsay.command, hearsay.length,
-- hearsay.checksum, with the checksum verified) and every field of the 28 messages, including
-- the ids the protocol defines (hearsay.tx.id, hearsay.header.id: SHA-256d of the encoding,
-- computed by the pure-Lua SHA-256 below). Frames split across TLS records are reassembled;
-- several frames in one record are each dissected. A frame or payload that a hearsay node
-- would refuse gets an expert info (group Malformed) naming the cause as the protocol does
-- (kTruncated, kBadMagic, kBadChecksum, ...).
--
-- Needs Wireshark 3.x or later (Lua 5.2 with bit32, or Lua 5.3/5.4).

local hearsay = Proto("hearsay", "hearsay P2P protocol")

-- Frame header: magic u32, command bytes[12], length u32, checksum bytes[4].
local kHeaderSize = 24

-- The 28 commands and their payload limits in bytes (p2p/limits.h).
local kLimits = {
    version = 309, verack = 0, ping = 8, pong = 8,
    inv = 1800005, getdata = 1800005, notfound = 1800005,
    tx = 102400, getheaders = 3269, headers = 360005, block = 4000000,
    sendcmpct = 9, cmpctblock = 4000000, getblocktxn = 96031, blocktxn = 4000000,
    addr = 122005, getaddr = 0, feefilter = 8, sendheaders = 0,
    sendshortids = 17, txinv = 300005, gettx = 300005, txnotfound = 300005,
    treetx = 102404, prune = 4003, graft = 4003,
    reqrecon = 1040, recondiff = 1041,
}
local kMaxInvEntries = 50000
local kMaxLocatorHashes = 101
local kMaxHeadersResults = 2000
local kMaxAddrRecords = 1000
local kMaxTxPayload = 65536
local kMaxBlockTxs = 31998
local kMaxUserAgent = 256
local kMaxTreeOriginEntries = 1000
local kTreeOriginSize = 4
local kMaxReconCapacity = 256
local kMaxReconBits = 16
local kReconElementSize = 4
local kBlockHeaderSize = 180

local inv_types = { [1] = "transaction", [2] = "block", [4] = "compact block" }
local recon_results = { [0] = "decoded", [1] = "failed", [2] = "refused" }

----------------------------------------------------------------------------------------------
-- Fields

local F = {}
local function field(name, f) F[name] = f end

field("magic", ProtoField.uint32("hearsay.magic", "Magic", base.HEX))
field("command", ProtoField.string("hearsay.command", "Command"))
field("length", ProtoField.uint32("hearsay.length", "Length", base.DEC))
field("checksum", ProtoField.bytes("hearsay.checksum", "Checksum"))
field("checksum_status", ProtoField.string("hearsay.checksum.status", "Checksum status"))
field("payload", ProtoField.bytes("hearsay.payload", "Payload"))

-- version
field("version_protocol", ProtoField.uint32("hearsay.version.protocol", "Protocol version"))
field("version_network", ProtoField.uint32("hearsay.version.network", "Network", base.HEX))
field("version_services", ProtoField.uint64("hearsay.version.services", "Services", base.HEX))
field("version_push_tx", ProtoField.bool("hearsay.version.services.push_tx",
    "kServicePushTx (pushes transactions unannounced)"))
field("version_tree", ProtoField.bool("hearsay.version.services.tree",
    "kServiceTree (relays transactions by tree)"))
field("version_recon", ProtoField.bool("hearsay.version.services.recon",
    "kServiceRecon (reconciles transaction sets)"))
field("version_time", ProtoField.int64("hearsay.version.time", "Time"))
field("version_best_height", ProtoField.uint64("hearsay.version.best_height", "Best height"))
field("version_user_agent", ProtoField.string("hearsay.version.user_agent", "User agent"))

-- NetAddress (version's addr_from and addr's records)
field("ip", ProtoField.ipv6("hearsay.netaddr.ip", "IP"))
field("port", ProtoField.uint16("hearsay.netaddr.port", "Port"))

-- ping, pong
field("ping_nonce", ProtoField.uint64("hearsay.ping.nonce", "Nonce", base.HEX))
field("pong_nonce", ProtoField.uint64("hearsay.pong.nonce", "Nonce", base.HEX))

-- inv, getdata, notfound
field("inv_count", ProtoField.uint32("hearsay.inv.count", "Entries"))
field("inv_type", ProtoField.uint32("hearsay.inv.type", "Type", base.DEC, inv_types))
field("inv_id", ProtoField.string("hearsay.inv.id", "Id"))

-- Transaction
field("tx_id", ProtoField.string("hearsay.tx.id", "Transaction id"))
field("tx_size", ProtoField.uint32("hearsay.tx.size", "Size"))
field("tx_network", ProtoField.uint32("hearsay.tx.network", "Network", base.HEX))
field("tx_sender", ProtoField.bytes("hearsay.tx.sender", "Sender"))
field("tx_nonce", ProtoField.uint64("hearsay.tx.nonce", "Nonce"))
field("tx_fee", ProtoField.uint64("hearsay.tx.fee", "Fee"))
field("tx_expiry", ProtoField.uint64("hearsay.tx.expiry", "Expiry"))
field("tx_payload_len", ProtoField.uint32("hearsay.tx.payload_length", "Payload length"))
field("tx_payload", ProtoField.bytes("hearsay.tx.payload", "Payload"))
field("tx_signature", ProtoField.bytes("hearsay.tx.signature", "Signature"))

-- BlockHeader
field("hdr_id", ProtoField.string("hearsay.header.id", "Block id"))
field("hdr_network", ProtoField.uint32("hearsay.header.network", "Network", base.HEX))
field("hdr_prev", ProtoField.string("hearsay.header.prev", "Previous block"))
field("hdr_height", ProtoField.uint64("hearsay.header.height", "Height"))
field("hdr_time", ProtoField.uint64("hearsay.header.time", "Time"))
field("hdr_merkle", ProtoField.string("hearsay.header.merkle_root", "Merkle root"))
field("hdr_producer", ProtoField.bytes("hearsay.header.producer", "Producer"))
field("hdr_signature", ProtoField.bytes("hearsay.header.signature", "Signature"))

-- getheaders, headers
field("loc_count", ProtoField.uint32("hearsay.getheaders.locator_count", "Locator hashes"))
field("loc_hash", ProtoField.string("hearsay.getheaders.locator", "Locator"))
field("loc_stop", ProtoField.string("hearsay.getheaders.stop", "Stop"))
field("headers_count", ProtoField.uint32("hearsay.headers.count", "Headers"))

-- block
field("block_tx_count", ProtoField.uint32("hearsay.block.tx_count", "Transactions"))

-- sendcmpct
field("sc_high_bandwidth", ProtoField.uint8("hearsay.sendcmpct.high_bandwidth", "High bandwidth",
    base.DEC, { [0] = "no", [1] = "yes" }))
field("sc_version", ProtoField.uint64("hearsay.sendcmpct.version", "Version"))

-- cmpctblock
field("cb_nonce", ProtoField.uint64("hearsay.cmpctblock.nonce", "Nonce", base.HEX))
field("cb_shortid_count", ProtoField.uint32("hearsay.cmpctblock.shortid_count", "Short ids"))
field("cb_shortid", ProtoField.uint64("hearsay.cmpctblock.shortid", "Short id", base.HEX))
field("cb_prefilled_count", ProtoField.uint32("hearsay.cmpctblock.prefilled_count",
    "Prefilled transactions"))
field("cb_prefilled_index", ProtoField.uint32("hearsay.cmpctblock.prefilled_index",
    "Prefilled index"))

-- getblocktxn, blocktxn
field("gbt_block_id", ProtoField.string("hearsay.getblocktxn.block_id", "Block id"))
field("gbt_count", ProtoField.uint32("hearsay.getblocktxn.index_count", "Indexes"))
field("gbt_index", ProtoField.uint32("hearsay.getblocktxn.index", "Index"))
field("bt_block_id", ProtoField.string("hearsay.blocktxn.block_id", "Block id"))
field("bt_tx_count", ProtoField.uint32("hearsay.blocktxn.tx_count", "Transactions"))

-- addr
field("addr_count", ProtoField.uint32("hearsay.addr.count", "Records"))
field("addr_identity", ProtoField.bytes("hearsay.addr.identity", "Identity"))
field("addr_time", ProtoField.uint64("hearsay.addr.time", "Time"))
field("addr_signature", ProtoField.bytes("hearsay.addr.signature", "Signature"))

-- feefilter
field("fee_rate", ProtoField.uint64("hearsay.feefilter.fee_rate", "Fee rate"))

-- sendshortids
field("ssi_version", ProtoField.uint8("hearsay.sendshortids.version", "Version"))
field("ssi_nonce", ProtoField.uint64("hearsay.sendshortids.nonce", "Nonce", base.HEX))
field("ssi_bucket_salt", ProtoField.uint64("hearsay.sendshortids.bucket_salt", "Bucket salt",
    base.HEX))

-- txinv, gettx, txnotfound
field("sid_count", ProtoField.uint32("hearsay.shortids.count", "Short ids"))
field("sid", ProtoField.uint64("hearsay.shortids.id", "Short id", base.HEX))

-- treetx, prune, graft
field("tree_origin", ProtoField.uint32("hearsay.treetx.origin", "Origin", base.HEX))
field("origin_count", ProtoField.uint32("hearsay.origins.count", "Origins"))
field("origin", ProtoField.uint32("hearsay.origins.origin", "Origin", base.HEX))

-- reqrecon, recondiff
field("recon_round", ProtoField.uint32("hearsay.recon.round", "Round"))
field("recon_bits", ProtoField.uint8("hearsay.recon.bits", "Part bits"))
field("recon_index", ProtoField.uint32("hearsay.recon.index", "Part index"))
field("recon_set_size", ProtoField.uint32("hearsay.recon.set_size", "Set size (elements in the part)"))
field("recon_capacity", ProtoField.uint32("hearsay.reqrecon.capacity", "Sketch capacity"))
field("recon_syndrome", ProtoField.uint32("hearsay.reqrecon.syndrome", "Power sum", base.HEX))
field("recon_result", ProtoField.uint8("hearsay.recondiff.result", "Result", base.DEC,
    recon_results))
field("recon_ask_count", ProtoField.uint32("hearsay.recondiff.ask_count", "Elements asked for"))
field("recon_ask", ProtoField.uint32("hearsay.recondiff.ask", "Element", base.HEX))

local field_list = {}
for _, f in pairs(F) do field_list[#field_list + 1] = f end
hearsay.fields = field_list

local ef_malformed = ProtoExpert.new("hearsay.malformed", "Malformed hearsay frame",
    expert.group.MALFORMED, expert.severity.ERROR)
local ef_checksum = ProtoExpert.new("hearsay.bad_checksum", "Bad hearsay checksum",
    expert.group.CHECKSUM, expert.severity.ERROR)
hearsay.experts = { ef_malformed, ef_checksum }

----------------------------------------------------------------------------------------------
-- Preferences

hearsay.prefs.ports = Pref.range("TLS ports", "18733",
    "TCP ports decoded as TLS carrying hearsay (hearsayd's --listen port)", 65535)
hearsay.prefs.magic = Pref.uint("Network magic", 0,
    "The network magic frames must carry (0x68727364 for the devnet); 0: any")
hearsay.prefs.verify_checksum = Pref.bool("Verify checksums", true,
    "Compute SHA-256d of each payload and compare it with the header's checksum")

----------------------------------------------------------------------------------------------
-- SHA-256 (FIPS 180-4) in pure Lua, for checksums and ids.

local band, bxor, bnot, rshift, rrotate
if bit32 then
    band, bxor, bnot, rshift, rrotate = bit32.band, bit32.bxor, bit32.bnot, bit32.rshift,
        bit32.rrotate
else
    -- Lua 5.3+: native integer operators, kept in a string so that Lua 5.2 parses this file.
    band, bxor, bnot, rshift, rrotate = load([[
        local M = 0xffffffff
        return function(a, b) return a & b end,
            function(a, b) return a ~ b end,
            function(a) return ~a & M end,
            function(a, n) return (a & M) >> n end,
            function(a, n) a = a & M; return ((a >> n) | (a << (32 - n))) & M end
    ]])()
end

local K = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
local M32 = 4294967296

local function be32(v)
    return string.char(math.floor(v / 16777216) % 256, math.floor(v / 65536) % 256,
        math.floor(v / 256) % 256, v % 256)
end

local function sha256(msg)
    local ml = #msg
    msg = msg .. "\128" .. string.rep("\0", (55 - ml) % 64) ..
        be32(math.floor(ml / 536870912)) .. be32((ml * 8) % M32)
    local H = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
    local w = {}
    for chunk = 1, #msg, 64 do
        for i = 0, 15 do
            local a, b, c, d = msg:byte(chunk + i * 4, chunk + i * 4 + 3)
            w[i] = a * 16777216 + b * 65536 + c * 256 + d
        end
        for i = 16, 63 do
            local v = w[i - 15]
            local s0 = bxor(bxor(rrotate(v, 7), rrotate(v, 18)), rshift(v, 3))
            v = w[i - 2]
            local s1 = bxor(bxor(rrotate(v, 17), rrotate(v, 19)), rshift(v, 10))
            w[i] = (w[i - 16] + s0 + w[i - 7] + s1) % M32
        end
        local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
        for i = 0, 63 do
            local S1 = bxor(bxor(rrotate(e, 6), rrotate(e, 11)), rrotate(e, 25))
            local ch = bxor(band(e, f), band(bnot(e), g))
            local t1 = (h + S1 + ch + K[i + 1] + w[i]) % M32
            local S0 = bxor(bxor(rrotate(a, 2), rrotate(a, 13)), rrotate(a, 22))
            local maj = bxor(bxor(band(a, b), band(a, c)), band(b, c))
            local t2 = (S0 + maj) % M32
            h, g, f, e, d, c, b, a = g, f, e, (d + t1) % M32, c, b, a, (t1 + t2) % M32
        end
        H[1], H[2], H[3], H[4] = (H[1] + a) % M32, (H[2] + b) % M32, (H[3] + c) % M32,
            (H[4] + d) % M32
        H[5], H[6], H[7], H[8] = (H[5] + e) % M32, (H[6] + f) % M32, (H[7] + g) % M32,
            (H[8] + h) % M32
    end
    local out = {}
    for i = 1, 8 do out[i] = be32(H[i]) end
    return table.concat(out)
end

local function sha256d(s) return sha256(sha256(s)) end

local function to_hex(s)
    return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

----------------------------------------------------------------------------------------------
-- A bounded reader over one payload. A decode failure raises { code = "kTruncated", ... },
-- caught per frame, so the frame gets one expert info naming the first cause.

local Reader = {}
Reader.__index = Reader

local function new_reader(tvb, offset, length)
    return setmetatable({ tvb = tvb, pos = offset, stop = offset + length }, Reader)
end

local function malformed(code, text)
    error({ code = code, text = text }, 0)
end

function Reader:left() return self.stop - self.pos end

function Reader:need(n, what)
    if self:left() < n then
        malformed("kTruncated", what .. " needs " .. n .. " bytes, " .. self:left() .. " left")
    end
end

-- Adds the hash (32 bytes) as `f`, in hex in the order the hash function outputs it (as
-- hearsay-cli and the RPC print ids); returns the hex.
function Reader:hash(tree, f, what)
    self:need(32, what)
    local range = self.tvb(self.pos, 32)
    local hex = to_hex(range:raw())
    tree:add(f, range, hex)
    self.pos = self.pos + 32
    return hex
end

-- Adds `f` over the next n bytes (little-endian), returns the range and the item.
function Reader:add(tree, f, n, what)
    self:need(n, what)
    local range = self.tvb(self.pos, n)
    local item = tree:add_le(f, range)
    self.pos = self.pos + n
    return range, item
end

function Reader:u8(tree, f, what)
    self:need(1, what)
    local range = self.tvb(self.pos, 1)
    local v = range:uint()
    if tree and f then tree:add(f, range) end
    self.pos = self.pos + 1
    return v, range
end

-- CompactSize in its shortest form, at most `max`; added as `f` with its value.
function Reader:compact(tree, f, max, what)
    self:need(1, what)
    local start = self.pos
    local first = self.tvb(start, 1):uint()
    local v, size, min
    if first < 0xfd then
        v, size, min = first, 1, 0
    elseif first == 0xfd then
        self:need(3, what); v, size, min = self.tvb(start + 1, 2):le_uint(), 3, 0xfd
    elseif first == 0xfe then
        self:need(5, what); v, size, min = self.tvb(start + 1, 4):le_uint(), 5, 0x10000
    else
        self:need(9, what)
        v, size, min = self.tvb(start + 1, 8):le_uint64():tonumber(), 9, 4294967296
    end
    if v < min then malformed("kNonCanonical", what .. ": CompactSize not in its shortest form") end
    if v > max then malformed("kTooLarge", what .. " " .. v .. " is over its limit " .. max) end
    if tree and f then tree:add(f, self.tvb(start, size), v) end
    self.pos = start + size
    return v
end

-- A count of entries of `entry_size` bytes each that the remaining bytes must be able to hold.
function Reader:count(tree, f, max, entry_size, what)
    local n = self:compact(tree, f, max, what)
    if n * entry_size > self:left() then
        malformed("kTruncated", what .. " " .. n .. " promises more than the " .. self:left() ..
            " bytes left")
    end
    return n
end

----------------------------------------------------------------------------------------------
-- Items (docs/protocol.md section 5)

local function short(hex) return hex:sub(1, 16) .. "..." end

local function dissect_tx(r, tree, label)
    r:need(125, "transaction")  -- the smallest transaction (empty payload)
    local start = r.pos
    local t = tree:add(hearsay, r.tvb(start, 125), label or "Transaction")
    r:add(t, F.tx_network, 4, "tx.network")
    r:add(t, F.tx_sender, 32, "tx.sender")
    r:add(t, F.tx_nonce, 8, "tx.nonce")
    r:add(t, F.tx_fee, 8, "tx.fee")
    r:add(t, F.tx_expiry, 8, "tx.expiry")
    local n = r:compact(t, F.tx_payload_len, kMaxTxPayload, "tx.payload length")
    if n > 0 then r:add(t, F.tx_payload, n, "tx.payload") end
    r:add(t, F.tx_signature, 64, "tx.signature")
    local size = r.pos - start
    t:set_len(size)
    local id = to_hex(sha256d(r.tvb:raw(start, size)))
    t:add(F.tx_id, r.tvb(start, size), id):set_generated()
    t:add(F.tx_size, r.tvb(start, size), size):set_generated()
    t:append_text(" " .. short(id))
    return id
end

local function dissect_header(r, tree)
    r:need(kBlockHeaderSize, "block header")
    local start = r.pos
    local t = tree:add(hearsay, r.tvb(start, kBlockHeaderSize), "Block header")
    r:add(t, F.hdr_network, 4, "header.network")
    r:hash(t, F.hdr_prev, "header.prev")
    local height = r.tvb(r.pos, 8):le_uint64()
    r:add(t, F.hdr_height, 8, "header.height")
    r:add(t, F.hdr_time, 8, "header.time")
    r:hash(t, F.hdr_merkle, "header.merkle_root")
    r:add(t, F.hdr_producer, 32, "header.producer")
    r:add(t, F.hdr_signature, 64, "header.signature")
    local id = to_hex(sha256d(r.tvb:raw(start, kBlockHeaderSize)))
    t:add(F.hdr_id, r.tvb(start, kBlockHeaderSize), id):set_generated()
    t:append_text(" " .. short(id) .. " height " .. tostring(height))
    return id
end

local function dissect_netaddr(r, tree)
    r:add(tree, F.ip, 16, "address.ip")
    r:add(tree, F.port, 2, "address.port")
end

----------------------------------------------------------------------------------------------
-- Messages (docs/protocol.md section 4). Each returns a short summary for the Info column.

local function inv_list(r, tree)
    local n = r:count(tree, F.inv_count, kMaxInvEntries, 36, "entry count")
    local first
    for i = 1, n do
        local e = tree:add(hearsay, r.tvb(r.pos, 36), "Entry " .. i)
        local type_range = r:add(e, F.inv_type, 4, "inv.type")
        local t = type_range:le_uint()
        local id = r:hash(e, F.inv_id, "inv.id")
        e:append_text(": " .. (inv_types[t] or ("type " .. t)) .. " " .. short(id))
        if not inv_types[t] then malformed("kBadValue", "inventory type " .. t) end
        first = first or short(id)
    end
    return n .. (n == 1 and " entry " .. first or " entries")
end

local messages = {}

messages.version = function(r, tree)
    r:add(tree, F.version_protocol, 4, "protocol_version")
    r:add(tree, F.version_network, 4, "network_magic")
    local services = r:add(tree, F.version_services, 8, "services")
    tree:add(F.version_push_tx, services, services:le_uint64():band(UInt64(1)) ~= UInt64(0))
    tree:add(F.version_tree, services, services:le_uint64():band(UInt64(4)) ~= UInt64(0))
    tree:add(F.version_recon, services, services:le_uint64():band(UInt64(8)) ~= UInt64(0))
    local time, time_item = r:add(tree, F.version_time, 8, "time")
    local secs = time:le_int64():tonumber()
    if secs and secs >= 0 and secs < 253402300800 then
        time_item:append_text(" (" .. os.date("!%Y-%m-%d %H:%M:%S", secs) .. " UTC)")
    end
    r:need(18, "addr_from")
    dissect_netaddr(r, tree:add(hearsay, r.tvb(r.pos, 18), "addr_from"))
    local height = r:add(tree, F.version_best_height, 8, "best_height")
    local start = r.pos
    local n = r:compact(nil, nil, kMaxUserAgent, "user_agent length")
    r:need(n, "user_agent")
    local ua = r.tvb:raw(r.pos, n)
    tree:add(F.version_user_agent, r.tvb(start, r.pos - start + n), ua)
    if ua:find("[^\32-\126]") then malformed("kBadValue", "user agent not printable ASCII") end
    r.pos = r.pos + n
    return ua .. ", height " .. tostring(height:le_uint64())
end

local function empty(r, tree) return nil end
messages.verack, messages.getaddr, messages.sendheaders = empty, empty, empty

messages.ping = function(r, tree)
    r:add(tree, F.ping_nonce, 8, "nonce")
end
messages.pong = function(r, tree)
    r:add(tree, F.pong_nonce, 8, "nonce")
end

messages.inv, messages.getdata, messages.notfound = inv_list, inv_list, inv_list

messages.tx = function(r, tree)
    return short(dissect_tx(r, tree))
end

messages.getheaders = function(r, tree)
    local n = r:count(tree, F.loc_count, kMaxLocatorHashes, 32, "locator count")
    for _ = 1, n do r:hash(tree, F.loc_hash, "locator hash") end
    r:hash(tree, F.loc_stop, "stop")
    return n .. " locator hashes"
end

messages.headers = function(r, tree)
    local n = r:count(tree, F.headers_count, kMaxHeadersResults, kBlockHeaderSize, "header count")
    local last
    for _ = 1, n do last = dissect_header(r, tree) end
    return n .. " headers" .. (last and (", last " .. short(last)) or "")
end

local function tx_list(r, tree, f, what)
    local n = r:count(tree, f, kMaxBlockTxs, 125, what)
    for i = 1, n do dissect_tx(r, tree, "Transaction " .. (i - 1)) end
    return n
end

messages.block = function(r, tree)
    local id = dissect_header(r, tree)
    local n = tx_list(r, tree, F.block_tx_count, "transaction count")
    return short(id) .. ", " .. n .. " txs"
end

messages.sendcmpct = function(r, tree)
    local hb = r:u8(tree, F.sc_high_bandwidth, "high_bandwidth")
    if hb > 1 then malformed("kBadValue", "high_bandwidth " .. hb .. " is neither 0 nor 1") end
    r:add(tree, F.sc_version, 8, "version")
    return hb == 1 and "high bandwidth" or "low bandwidth"
end

-- Differentially encoded indexes (cmpctblock's prefilled, getblocktxn's).
local function next_index(r, tree, f, previous, what)
    local start = r.pos
    local diff = r:compact(nil, nil, kMaxBlockTxs, what)
    local index = previous and (previous + 1 + diff) or diff
    if index >= kMaxBlockTxs then malformed("kTooLarge", what .. " " .. index) end
    tree:add(f, r.tvb(start, r.pos - start), index)
    return index
end

-- A count and that many 6-byte short ids (48-bit values, little-endian: in txinv and its kin
-- the link part u32, then the bucket part u16). Returns the count.
local function short_ids(r, tree, count_field, id_field, max)
    local n = r:count(tree, count_field, max, 6, "short id count")
    for _ = 1, n do
        local lo = r.tvb(r.pos, 4):le_uint()
        local hi = r.tvb(r.pos + 4, 2):le_uint()
        tree:add(id_field, r.tvb(r.pos, 6), UInt64(lo, hi))
        r.pos = r.pos + 6
    end
    return n
end

messages.cmpctblock = function(r, tree)
    local id = dissect_header(r, tree)
    r:add(tree, F.cb_nonce, 8, "nonce")
    local n = short_ids(r, tree, F.cb_shortid_count, F.cb_shortid, kMaxBlockTxs)
    local m = r:compact(tree, F.cb_prefilled_count, kMaxBlockTxs - n, "prefilled count")
    local index
    for i = 1, m do
        r:need(1, "prefilled index")
        local p = tree:add(hearsay, r.tvb(r.pos, 1), "Prefilled " .. i)
        index = next_index(r, p, F.cb_prefilled_index, index, "prefilled index")
        dissect_tx(r, p)
    end
    if index and index >= n + m then
        malformed("kBadValue", "prefilled index " .. index .. " past the block's " .. (n + m) ..
            " transactions")
    end
    return short(id) .. ", " .. n .. " short ids, " .. m .. " prefilled"
end

messages.getblocktxn = function(r, tree)
    r:hash(tree, F.gbt_block_id, "block_id")
    local n = r:compact(tree, F.gbt_count, kMaxBlockTxs, "index count")
    local index
    for _ = 1, n do index = next_index(r, tree, F.gbt_index, index, "index") end
    return n .. " indexes"
end

messages.blocktxn = function(r, tree)
    r:hash(tree, F.bt_block_id, "block_id")
    return tx_list(r, tree, F.bt_tx_count, "transaction count") .. " txs"
end

messages.addr = function(r, tree)
    local n = r:count(tree, F.addr_count, kMaxAddrRecords, 122, "record count")
    for i = 1, n do
        local p = tree:add(hearsay, r.tvb(r.pos, 122), "Peer record " .. i)
        r:add(p, F.addr_identity, 32, "identity")
        dissect_netaddr(r, p)
        r:add(p, F.addr_time, 8, "time")
        r:add(p, F.addr_signature, 64, "signature")
    end
    return n .. " records"
end

messages.feefilter = function(r, tree)
    local v = r:add(tree, F.fee_rate, 8, "fee_rate")
    return tostring(v:le_uint64()) .. " per 1000 bytes"
end

messages.sendshortids = function(r, tree)
    local v = r:add(tree, F.ssi_version, 1, "version")
    r:add(tree, F.ssi_nonce, 8, "nonce")
    r:add(tree, F.ssi_bucket_salt, 8, "bucket_salt")
    return "version " .. v:uint()
end

local function short_id_list(r, tree)
    return short_ids(r, tree, F.sid_count, F.sid, kMaxInvEntries) .. " short ids"
end
messages.txinv, messages.gettx, messages.txnotfound = short_id_list, short_id_list, short_id_list

-- A transaction, then its origin (u32). As a hearsay node does, the last 4 bytes are the origin
-- and everything before them must be exactly one transaction.
messages.treetx = function(r, tree)
    r:need(kTreeOriginSize, "origin")
    local tx = new_reader(r.tvb, r.pos, r:left() - kTreeOriginSize)
    local id = dissect_tx(tx, tree)
    if tx:left() > 0 then
        malformed("kTrailingBytes", tx:left() .. " bytes between the transaction and the origin")
    end
    r.pos = tx.stop
    local origin = r:add(tree, F.tree_origin, kTreeOriginSize, "origin")
    return short(id) .. string.format(", origin 0x%08x", origin:le_uint())
end

local function origin_list(r, tree)
    local n = r:count(tree, F.origin_count, kMaxTreeOriginEntries, kTreeOriginSize,
        "origin count")
    local first
    for _ = 1, n do
        local range = r:add(tree, F.origin, kTreeOriginSize, "origin")
        first = first or range:le_uint()
    end
    if n == 1 then return string.format("1 origin 0x%08x", first) end
    return n .. " origins"
end
messages.prune, messages.graft = origin_list, origin_list

-- The part a reqrecon or recondiff is about: round, bits (at most 16), index (below 2^bits),
-- checked as soon as they are read. Returns bits, index.
local function recon_part(r, tree)
    r:add(tree, F.recon_round, 4, "round")
    local bits = r:u8(tree, F.recon_bits, "bits")
    local index = r:add(tree, F.recon_index, 4, "index"):le_uint()
    if bits > kMaxReconBits then
        malformed("kBadValue", "part bits " .. bits .. " over " .. kMaxReconBits)
    end
    if index >= 2 ^ bits then
        malformed("kBadValue", "part index " .. index .. " not below 2^" .. bits)
    end
    return bits, index
end

local function part_text(bits, index)
    return string.format("part %d/0x%x", bits, index)
end

messages.reqrecon = function(r, tree)
    local bits, index = recon_part(r, tree)
    local size = r:add(tree, F.recon_set_size, 4, "set_size"):le_uint()
    local c = r:compact(tree, F.recon_capacity, kMaxReconCapacity, "sketch capacity")
    if c == 0 then malformed("kBadValue", "sketch capacity 0") end
    r:need(c * kReconElementSize, "sketch")
    local sums = tree:add(hearsay, r.tvb(r.pos, c * kReconElementSize), "Sketch (s1, s3, ...)")
    for k = 1, c do
        local range, item = r:add(sums, F.recon_syndrome, kReconElementSize, "power sum")
        item:set_text(string.format("s%d: 0x%08x", 2 * k - 1, range:le_uint()))
    end
    return part_text(bits, index) .. ", " .. size .. " elements, capacity " .. c
end

-- As a hearsay node does, each field is checked as it is read.
messages.recondiff = function(r, tree)
    local bits, index = recon_part(r, tree)
    local result = r:u8(tree, F.recon_result, "result")
    if result > 2 then malformed("kBadValue", "result " .. result) end
    local size = r:add(tree, F.recon_set_size, 4, "set_size"):le_uint()
    local n = r:compact(tree, F.recon_ask_count, kMaxReconCapacity, "element count")
    if n ~= 0 and result ~= 0 then
        malformed("kBadValue", n .. " elements in a " .. recon_results[result] .. " answer")
    end
    if n * kReconElementSize > r:left() then
        malformed("kTruncated", "element count " .. n .. " promises more than the " .. r:left() ..
            " bytes left")
    end
    for _ = 1, n do r:add(tree, F.recon_ask, kReconElementSize, "element") end
    local text = part_text(bits, index) .. ", " .. recon_results[result] .. ", " .. size ..
        " elements"
    if result == 0 then text = text .. ", " .. n .. " asked" end
    return text
end

----------------------------------------------------------------------------------------------
-- Framing (docs/protocol.md section 2)

-- The command of a header at `offset`, or nil and the protocol's error.
local function parse_command(tvb, offset)
    local raw = tvb:raw(offset + 4, 12)
    local name = raw:match("^([\33-\126]+)%z*$")
    if not name then return nil, "kBadCommand" end
    if not kLimits[name] then return nil, "kUnknownCommand", name end
    return name
end

-- Checks a header the way a receiver does, in order. Returns command, length or nil, error
-- code, text.
local function check_header(tvb, offset)
    local magic = tvb(offset, 4):le_uint()
    local want = hearsay.prefs.magic
    if want ~= 0 and magic ~= want then
        return nil, "kBadMagic", string.format("magic 0x%08x, expected 0x%08x", magic, want)
    end
    local name, code, unknown = parse_command(tvb, offset)
    if not name then
        if code == "kUnknownCommand" then return nil, code, "unknown command '" .. unknown .. "'" end
        return nil, code, "command is not NUL-padded printable ASCII"
    end
    local length = tvb(offset + 16, 4):le_uint()
    if length > kLimits[name] then
        return nil, "kOversizePayload",
            name .. " payload of " .. length .. " bytes, limit " .. kLimits[name]
    end
    return name, length
end

-- Info column: the messages of this packet, "; " between them. A packet may carry several
-- TLS records (one call each), and TCP may fence the column between two calls: a later call
-- appends to what an earlier one wrote, a fresh dissection of the packet starts over.
local info_packet, info_text = nil, nil
local function note_info(pinfo, text)
    pinfo.cols.protocol:set("hearsay")
    if info_packet == pinfo.number and tostring(pinfo.cols.info) == info_text then
        pinfo.cols.info:append("; " .. text)
    else
        pinfo.cols.info:set(text)
    end
    info_packet, info_text = pinfo.number, tostring(pinfo.cols.info)
end

local function dissect_frame(tvb, pinfo, root, offset, name, length)
    local tree = root:add(hearsay, tvb(offset, kHeaderSize + length))
    tree:add_le(F.magic, tvb(offset, 4))
    tree:add(F.command, tvb(offset + 4, 12), name)
    tree:add_le(F.length, tvb(offset + 16, 4))
    local ck = tree:add(F.checksum, tvb(offset + 20, 4))
    local poff = offset + kHeaderSize
    if hearsay.prefs.verify_checksum then
        local want = tvb:raw(offset + 20, 4)
        local got = sha256d(length > 0 and tvb:raw(poff, length) or ""):sub(1, 4)
        if got == want then
            tree:add(F.checksum_status, tvb(offset + 20, 4), "good"):set_generated()
        else
            tree:add(F.checksum_status, tvb(offset + 20, 4), "bad"):set_generated()
            ck:add_proto_expert_info(ef_checksum, "kBadChecksum: SHA-256d of the payload starts " ..
                to_hex(got) .. ", not " .. to_hex(want))
        end
    end
    tree:append_text(", " .. name .. " (" .. length .. " bytes)")
    local summary
    local r = new_reader(tvb, poff, length)
    local ok, err = pcall(function() summary = messages[name](r, tree) end)
    if ok and r:left() > 0 then
        ok, err = false, { code = "kTrailingBytes", text = r:left() .. " bytes after the " .. name }
    end
    if not ok then
        if type(err) ~= "table" then error(err, 0) end
        tree:add_proto_expert_info(ef_malformed, err.code .. ": " .. err.text)
        summary = "malformed: " .. err.code
    end
    note_info(pinfo, name .. (summary and (" " .. summary) or ""))
end

-- Dissects every complete frame of a stream of decrypted bytes; asks TLS for more bytes when
-- a frame is incomplete.
local function dissect_stream(tvb, pinfo, root)
    local total = tvb:len()
    local offset = 0
    while offset < total do
        local left = total - offset
        if left < kHeaderSize then
            if pinfo.can_desegment > 0 then
                pinfo.desegment_offset = offset
                pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
                return total
            end
            local t = root:add(hearsay, tvb(offset, left))
            t:add_proto_expert_info(ef_malformed, "kTruncated: " .. left ..
                " bytes, less than a frame header")
            return total
        end
        local name, length, text = check_header(tvb, offset)
        if not name then
            -- A receiver closes the connection here: nothing after this is framed.
            local t = root:add(hearsay, tvb(offset, left))
            t:add_le(F.magic, tvb(offset, 4))
            t:add(F.command, tvb(offset + 4, 12), (tvb:raw(offset + 4, 12):gsub("%z+$", "")))
            t:add_le(F.length, tvb(offset + 16, 4))
            t:add_proto_expert_info(ef_malformed, length .. ": " .. text)
            note_info(pinfo, "malformed: " .. length)
            return total
        end
        if left < kHeaderSize + length then
            if pinfo.can_desegment > 0 then
                pinfo.desegment_offset = offset
                pinfo.desegment_len = kHeaderSize + length - left
                return total
            end
            local t = root:add(hearsay, tvb(offset, left))
            t:add(F.command, tvb(offset + 4, 12), name)
            t:add_le(F.length, tvb(offset + 16, 4))
            t:add_proto_expert_info(ef_malformed, "kTruncated: " .. name .. " frame of " ..
                (kHeaderSize + length) .. " bytes, " .. left .. " captured")
            return total
        end
        dissect_frame(tvb, pinfo, root, offset, name, length)
        offset = offset + kHeaderSize + length
    end
    return total
end

function hearsay.dissector(tvb, pinfo, root)
    return dissect_stream(tvb, pinfo, root)
end

-- TLS application data that starts with a well-formed frame header is hearsay.
local function heuristic(tvb, pinfo, root)
    if tvb:len() < kHeaderSize then return false end
    if not check_header(tvb, 0) then return false end
    dissect_stream(tvb, pinfo, root)
    return true
end
hearsay:register_heuristic("tls", heuristic)

-- The ports preference: TCP on these ports is TLS, and TLS on them is hearsay.
local registered_ports = nil
local function register_ports()
    local tcp_table = DissectorTable.get("tcp.port")
    local tls_table = DissectorTable.get("tls.port")
    local tls = Dissector.get("tls")
    if registered_ports and registered_ports ~= "" then
        tcp_table:remove(registered_ports, tls)
        tls_table:remove(registered_ports, hearsay)
    end
    registered_ports = tostring(hearsay.prefs.ports)
    if registered_ports ~= "" then
        tcp_table:add(registered_ports, tls)
        tls_table:add(registered_ports, hearsay)
    end
end

function hearsay.prefs_changed() register_ports() end
register_ports()

-- Decode As: hearsay on a TLS port, or on a plain TCP port (a stream without TLS, such as a
-- hand-made capture of the frames in docs/protocol.md).
DissectorTable.get("tls.port"):add_for_decode_as(hearsay)
DissectorTable.get("tcp.port"):add_for_decode_as(hearsay)
