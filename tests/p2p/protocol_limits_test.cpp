// docs/protocol.md §11, "Limits and penalties", tabulates every limit, timeout, score and ban
// with the constant it comes from. This test ties the two together: every row's Value must equal
// its constant, and every constant of kConstants must have exactly one row, so that neither the
// document nor the code can change alone.
//
// The table. In the section whose heading ends with "Limits and penalties" (up to the next "## "
// heading), every line that starts with '|' is a row of a table, except header rows (first cell
// "Limit") and separator rows (cells of '-' and ':'). A row has three cells: Limit (free text),
// Value and Constant. Constant is one C++ name in backticks: `kName`, or `Struct::member` for
// the default of a configuration field.
//
// Value syntax: NUMBER, or NUMBER " " UNIT.
//   NUMBER  decimal digits, in groups of three separated by ',' once there are more than three
//           ("4,000,000"; "4000000" is refused), optionally followed by '.' and digits ("0.1").
//   UNIT    a time unit (ms, s, min, h, d) for a duration, which may be written in any of them
//           ("120 s" equals "2 min"); otherwise one of kUnits, exactly as the constant's entry in
//           kConstants gives it. A ratio or threshold has no unit.
//
// Also here: the devnet producer keys that §8.5 lists are the ones the code derives.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iomanip>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "chainstub/block_relay.h"
#include "chainstub/chain.h"
#include "chainstub/chain_orphans.h"
#include "chainstub/params.h"
#include "crypto/hex.h"
#include "crypto/result.h"
#include "mempool/policy.h"
#include "net/connection.h"
#include "net/frame_budget.h"
#include "net/host.h"
#include "net/stall_guard.h"
#include "node/options.h"
#include "p2p/addrman.h"
#include "p2p/eviction.h"
#include "p2p/limits.h"
#include "p2p/peer_manager.h"
#include "p2p/phi_accrual.h"
#include "p2p/seen_set.h"
#include "p2p/tx_relay.h"
#include "p2p/txrequest.h"

namespace hearsay {
namespace {

using Micros = std::chrono::microseconds;

// The units a Value may carry besides the time units ("": none).
const std::set<std::string> kUnits = {
    "",  "bytes", "entries", "bits",        "blocks",          "peers",      "points",
    "%", "per s", "units",   "units per s", "per 1,000 bytes", "bytes per s"};
// Microseconds per time unit.
const std::map<std::string, int64_t> kTimeUnits = {{"ms", 1'000},
                                                   {"s", 1'000'000},
                                                   {"min", 60'000'000},
                                                   {"h", 3'600'000'000},
                                                   {"d", 86'400'000'000}};

// What a row must say: a duration (in any time unit), or a number in `unit`.
struct Expected {
  std::optional<Micros> duration;
  double number = 0;
  std::string unit;
};

template <class Rep, class Period>
Expected time_value(std::chrono::duration<Rep, Period> d) {
  return {std::chrono::duration_cast<Micros>(d), 0, ""};
}

template <class T>
requires std::is_arithmetic_v<T> Expected number_value(T v, std::string unit) {
  return {std::nullopt, static_cast<double>(v), std::move(unit)};
}

// One line per constant: NUMBER_ROW(k, unit) and TIME_ROW(k) for a named constant;
// FIELD_NUMBER_ROW(Struct, member, unit) and FIELD_TIME_ROW(Struct, member) for the default of a
// configuration field, which the table names Struct::member.
#define NUMBER_ROW(k, unit) \
  { #k, number_value(k, unit) }
#define TIME_ROW(k) \
  { #k, time_value(k) }
#define FIELD_NUMBER_ROW(S, m, unit) \
  { #S "::" #m, number_value(S{}.m, unit) }
#define FIELD_TIME_ROW(S, m) \
  { #S "::" #m, time_value(S{}.m) }

const std::vector<std::pair<std::string, Expected>> kConstants = {
    // Framing and messages (p2p/limits.h).
    NUMBER_ROW(kMaxMessagePayload, "bytes"),
    NUMBER_ROW(kMaxVersionPayload, "bytes"),
    NUMBER_ROW(kMaxInvPayload, "bytes"),
    NUMBER_ROW(kMaxTxMessage, "bytes"),
    NUMBER_ROW(kMaxGetHeadersPayload, "bytes"),
    NUMBER_ROW(kMaxHeadersPayload, "bytes"),
    NUMBER_ROW(kMaxBlockMessage, "bytes"),
    NUMBER_ROW(kMaxGetBlockTxnPayload, "bytes"),
    NUMBER_ROW(kMaxAddrPayload, "bytes"),
    NUMBER_ROW(kSendShortIdsPayload, "bytes"),
    NUMBER_ROW(kMaxShortIdListPayload, "bytes"),
    NUMBER_ROW(kMaxTreeTxMessage, "bytes"),
    NUMBER_ROW(kMaxTreeOriginListPayload, "bytes"),
    NUMBER_ROW(kMaxReqReconPayload, "bytes"),
    NUMBER_ROW(kMaxReconDiffPayload, "bytes"),
    NUMBER_ROW(kMaxUserAgent, "bytes"),
    NUMBER_ROW(kMaxInvEntries, "entries"),
    NUMBER_ROW(kMaxShortIdEntries, "entries"),
    NUMBER_ROW(kMaxTreeOriginEntries, "entries"),
    NUMBER_ROW(kMaxReconCapacity, "entries"),
    NUMBER_ROW(kMaxReconBits, "bits"),
    NUMBER_ROW(kMaxLocatorHashes, "entries"),
    NUMBER_ROW(kMaxHeadersResults, "entries"),
    NUMBER_ROW(kMaxAddrRecords, "entries"),
    NUMBER_ROW(kMaxTxPayload, "bytes"),
    NUMBER_ROW(kMinTxSize, "bytes"),
    NUMBER_ROW(kMaxTxSize, "bytes"),
    NUMBER_ROW(kMaxBlockSize, "bytes"),
    NUMBER_ROW(kMaxBlockTxs, "entries"),
    // Connections (net/, p2p/peer_manager.h, p2p/phi_accrual.h, node/options.h).
    TIME_ROW(kDefaultConnectTimeout),
    FIELD_TIME_ROW(ConnectionLimits, tls_handshake_timeout),
    FIELD_TIME_ROW(PeerManagerConfig, handshake_timeout),
    FIELD_NUMBER_ROW(NodeOptions, max_inbound, "peers"),
    FIELD_NUMBER_ROW(NodeOptions, max_inbound_per_ip, "peers"),
    FIELD_TIME_ROW(PeerManagerConfig, ping_interval),
    FIELD_NUMBER_ROW(PeerManagerConfig, phi_suspect, ""),
    FIELD_NUMBER_ROW(PeerManagerConfig, phi_disconnect, ""),
    NUMBER_ROW(kPhiWindow, "entries"),
    FIELD_TIME_ROW(PeerManagerConfig, phi_max_interval),
    FIELD_TIME_ROW(PeerManagerConfig, idle_timeout),
    FIELD_TIME_ROW(ConnectionLimits, idle_timeout),
    TIME_ROW(kDefaultTickInterval),
    NUMBER_ROW(kSendQueueHighWatermark, "bytes"),
    NUMBER_ROW(kSendQueueLowWatermark, "bytes"),
    NUMBER_ROW(kSendQueueCap, "bytes"),
    FIELD_TIME_ROW(ConnectionLimits, write_stall_timeout),
    FIELD_TIME_ROW(ConnectionLimits, shutdown_timeout),
    // Misbehaviour and bans.
    NUMBER_ROW(kMisbehaviourThreshold, "points"),
    TIME_ROW(kMisbehaviourBanTime),
    NUMBER_ROW(kScoreMalformed, "points"),
    NUMBER_ROW(kScoreHandshakeViolation, "points"),
    NUMBER_ROW(kScoreBadPong, "points"),
    NUMBER_ROW(kScoreForgedRecord, "points"),
    NUMBER_ROW(kScoreUnrequestedTx, "points"),
    NUMBER_ROW(kScoreOversizedGetData, "points"),
    NUMBER_ROW(kScoreUnexpectedShortIds, "points"),
    NUMBER_ROW(kScoreUnexpectedTree, "points"),
    NUMBER_ROW(kScoreWithheldBody, "points"),
    NUMBER_ROW(kScoreUnexpectedRecon, "points"),
    NUMBER_ROW(kScoreNonContinuousHeaders, "points"),
    NUMBER_ROW(kScoreOversizedBlockGetData, "points"),
    NUMBER_ROW(kScoreBadCompact, "points"),
    // Address gossip (p2p/peer_manager.h, p2p/addrman.h).
    NUMBER_ROW(kAddrRatePerSecond, "per s"),
    NUMBER_ROW(kAddrInitialTokens, "entries"),
    TIME_ROW(kMaxRecordFutureSkew),
    TIME_ROW(kMaxRecordAge),
    TIME_ROW(kFreshRecordAge),
    TIME_ROW(kOwnRecordRefresh),
    FIELD_TIME_ROW(PeerManagerConfig, self_advertise_interval),
    NUMBER_ROW(kMaxForwardBatch, "entries"),
    NUMBER_ROW(kAddrForwardFanout, "peers"),
    NUMBER_ROW(kMaxKnownRecordsPerPeer, "entries"),
    NUMBER_ROW(kGetAddrPercent, "%"),
    NUMBER_ROW(kMinGetAddrAnswer, "entries"),
    // Transaction relay (p2p/tx_relay.h, p2p/txrequest.h, p2p/seen_set.h).
    FIELD_TIME_ROW(TxRelayConfig, inv_interval),
    NUMBER_ROW(kMaxInvPerMessage, "entries"),
    NUMBER_ROW(kMaxAnnounceQueue, "entries"),
    NUMBER_ROW(kKnownPerPeer, "entries"),
    TIME_ROW(kKnownExpiry),
    NUMBER_ROW(kMaxPeerAnnouncements, "entries"),
    NUMBER_ROW(kMaxPeerInFlight, "entries"),
    NUMBER_ROW(kMaxPeerInFlightCeiling, "entries"),
    NUMBER_ROW(kMaxDeferredPerPeer, "entries"),
    TIME_ROW(kRateSamplePeriod),
    TIME_ROW(kLinkFilterPeriod),
    TIME_ROW(kRequestTimeout),
    TIME_ROW(kNonPreferredDelay),
    TIME_ROW(kOverloadedPeerDelay),
    NUMBER_ROW(kMaxRequestedPerPeer, "entries"),
    TIME_ROW(kRequestedMemory),
    NUMBER_ROW(kMaxGetDataTx, "entries"),
    NUMBER_ROW(kMaxVerifying, "entries"),
    NUMBER_ROW(kVerifyHoldHigh, "entries"),
    NUMBER_ROW(kVerifyHoldLow, "entries"),
    NUMBER_ROW(kAntiEntropyMax, "entries"),
    TIME_ROW(kDefaultSeenExpiry),
    NUMBER_ROW(kDefaultSeenMaxEntries, "entries"),
    TIME_ROW(kShortIdNegotiationTimeout),
    TIME_ROW(kAnnouncedShortIdMemory),
    NUMBER_ROW(kAnnouncedShortIdsPerPeer, "entries"),
    NUMBER_ROW(kRecentIds, "entries"),
    NUMBER_ROW(kMaxCandidates, "entries"),
    TIME_ROW(kGraftTimeout),
    TIME_ROW(kLazyInterval),
    NUMBER_ROW(kMaxTreeOrigins, "entries"),
    NUMBER_ROW(kMaxOwedPerPeer, "entries"),
    TIME_ROW(kWithholdWindow),
    NUMBER_ROW(kTreeSwapStreak, "entries"),
    TIME_ROW(kReconcileInterval),
    NUMBER_ROW(kMaxReconSet, "entries"),
    NUMBER_ROW(kMaxReconSnapshots, "entries"),
    NUMBER_ROW(kReconInitialDifferences, "entries"),
    NUMBER_ROW(kReconMinCapacity, "entries"),
    NUMBER_ROW(kReconSplitCapacity, "entries"),
    TIME_ROW(kReconTimeout),
    NUMBER_ROW(kReconOfferedPerPeer, "entries"),
    TIME_ROW(kReconOfferMemory),
    NUMBER_ROW(kReconBudget, "units"),
    NUMBER_ROW(kReconRefillPerSecond, "units per s"),
    NUMBER_ROW(kReconUnitsPerElement, "units"),
    NUMBER_ROW(kReconExchangeFactor, ""),
    NUMBER_ROW(kMaxReconRoundBytes, "bytes"),
    NUMBER_ROW(kMaxReconAsked, "entries"),
    // Blocks (chainstub/, mempool/policy.h).
    TIME_ROW(kMaxFutureBlockTime),
    NUMBER_ROW(kMaxOrphanBlocks, "blocks"),
    NUMBER_ROW(kMaxOrphanBytes, "bytes"),
    NUMBER_ROW(kDefaultMaxBlockSize, "bytes"),
    NUMBER_ROW(kDefaultMinFeeRate, "per 1,000 bytes"),
    NUMBER_ROW(kMaxBlocksInFlightPerPeer, "blocks"),
    TIME_ROW(kBlockDownloadTimeout),
    TIME_ROW(kAvoidTime),
    TIME_ROW(kGetHeadersTimeout),
    NUMBER_ROW(kKnownBlocksPerPeer, "entries"),
    NUMBER_ROW(kMaxHeadersToAnnounce, "entries"),
    NUMBER_ROW(kMaxCmpctDepth, "blocks"),
    NUMBER_ROW(kMaxPrefillBytes, "bytes"),
    NUMBER_ROW(kMaxGetDataBlocks, "entries"),
    NUMBER_ROW(kMaxPartialBlocks, "blocks"),
    NUMBER_ROW(kMaxAwaitingVerdicts, "blocks"),
    FIELD_NUMBER_ROW(BlockRelayConfig, high_bandwidth_peers, "peers"),
    // Inbound eviction (p2p/eviction.h).
    NUMBER_ROW(kEvictProtectNetGroups, "peers"),
    NUMBER_ROW(kEvictProtectPing, "peers"),
    NUMBER_ROW(kEvictProtectTx, "peers"),
    NUMBER_ROW(kEvictProtectBlock, "peers"),
    // Frames in progress (net/connection.h, net/frame_budget.h, net/stall_guard.h).
    TIME_ROW(kFrameGrace),
    NUMBER_ROW(kFrameMinRate, "bytes per s"),
    TIME_ROW(kMaxFrameDeadline),
    NUMBER_ROW(kDefaultMaxPartialFrameBytes, "bytes"),
    TIME_ROW(kPartialFrameStalledAfter),
    NUMBER_ROW(kStallThreshold, ""),
    TIME_ROW(kStallWindow),
    TIME_ROW(kDiscouragementTime),
};

#undef NUMBER_ROW
#undef TIME_ROW
#undef FIELD_NUMBER_ROW
#undef FIELD_TIME_ROW

// --- reading the document ----------------------------------------------------------------------

struct Row {
  int line = 0;
  std::string value;
  std::string constant;  // without its backticks
};

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t") - b + 1));
}

std::vector<std::string> read_lines() {
  std::ifstream in(HEARSAY_SOURCE_DIR "/docs/protocol.md");
  EXPECT_TRUE(in) << "cannot open docs/protocol.md";
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

// The cells of a table line "| a | b | c |", trimmed.
std::vector<std::string> cells_of(std::string_view line) {
  std::vector<std::string> cells;
  const std::string t = trim(line);
  size_t at = 1;
  for (size_t bar; (bar = t.find('|', at)) != std::string::npos; at = bar + 1)
    cells.push_back(trim(std::string_view(t).substr(at, bar - at)));
  return cells;
}

bool is_separator(const std::vector<std::string>& cells) {
  for (const std::string& c : cells)
    if (c.empty() || c.find_first_not_of("-:") != std::string::npos) return false;
  return !cells.empty();
}

bool is_identifier(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

// `kName` or `Struct::member`, without the backticks; nullopt for anything else.
std::optional<std::string> constant_of(const std::string& cell) {
  if (cell.size() < 3 || cell.front() != '`' || cell.back() != '`') return std::nullopt;
  const std::string name = cell.substr(1, cell.size() - 2);
  const size_t sep = name.find("::");
  if (sep == std::string::npos) return is_identifier(name) ? std::optional(name) : std::nullopt;
  if (!is_identifier(std::string_view(name).substr(0, sep)) ||
      !is_identifier(std::string_view(name).substr(sep + 2)))
    return std::nullopt;
  return name;
}

// The rows of §11's tables; a malformed row is a test failure naming its line.
std::vector<Row> read_rows() {
  const std::vector<std::string> lines = read_lines();
  std::vector<Row> rows;
  bool inside = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.rfind("## ", 0) == 0) {
      inside = line.ends_with("Limits and penalties");
      continue;
    }
    if (!inside || line.rfind("|", 0) != 0) continue;
    const std::vector<std::string> cells = cells_of(line);
    if (is_separator(cells) || (!cells.empty() && cells[0] == "Limit")) continue;
    const int number = static_cast<int>(i + 1);
    if (cells.size() != 3) {
      ADD_FAILURE() << "docs/protocol.md:" << number << ": a row has 3 cells, this one "
                    << cells.size() << ": " << line;
      continue;
    }
    const std::optional<std::string> constant = constant_of(cells[2]);
    if (!constant) {
      ADD_FAILURE() << "docs/protocol.md:" << number
                    << ": the Constant cell must be one `kName` or `Struct::member`, not "
                    << cells[2];
      continue;
    }
    rows.push_back(Row{number, cells[1], *constant});
  }
  return rows;
}

// --- the Value syntax --------------------------------------------------------------------------

// A Value as written: the number without its point ("0.1": digits 1, decimals 1) and the unit.
struct DocValue {
  uint64_t digits = 0;
  int decimals = 0;
  std::string unit;
};

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

Result<DocValue, std::string> parse_value(std::string_view text) {
  const size_t space = text.find(' ');
  const std::string_view number = text.substr(0, space);
  DocValue v;
  if (space != std::string_view::npos) v.unit = std::string(text.substr(space + 1));
  if (!kUnits.count(v.unit) && !kTimeUnits.count(v.unit))
    return fail("unknown unit '" + v.unit + "'");
  const size_t point = number.find('.');
  const std::string_view whole = number.substr(0, point);
  std::string plain;
  // Groups of three after the first, which has one to three digits.
  size_t first = whole.find(',');
  if (first == std::string_view::npos) first = whole.size();
  if (first < 1 || first > 3 || !all_digits(whole.substr(0, first)))
    return fail("'" + std::string(number) + "' does not start with 1 to 3 digits");
  plain = std::string(whole.substr(0, first));
  for (size_t at = first; at < whole.size(); at += 4) {
    const std::string_view group = whole.substr(at + 1, 3);
    if (whole[at] != ',' || group.size() != 3 || !all_digits(group) ||
        (at + 4 < whole.size() && whole[at + 4] != ','))
      return fail("'" + std::string(number) + "' is not grouped in threes by commas");
    plain += group;
  }
  if (plain.size() > 3 && whole.find(',') == std::string_view::npos)
    return fail("'" + std::string(number) + "' has more than three digits without commas");
  if (plain.size() > 1 && plain[0] == '0')
    return fail("'" + std::string(number) + "' has a leading zero");
  if (point != std::string_view::npos) {
    const std::string_view fraction = number.substr(point + 1);
    if (!all_digits(fraction)) return fail("'" + std::string(number) + "' has no digits after '.'");
    plain += fraction;
    v.decimals = static_cast<int>(fraction.size());
  }
  if (plain.size() > 18) return fail("'" + std::string(number) + "' has too many digits");
  v.digits = std::stoull(plain);
  return v;
}

double power_of_ten(int n) {
  double p = 1;
  for (int i = 0; i < n; ++i)
    p *= 10;
  return p;
}

// Why the Value `text` does not say `want`, or nullopt when it does.
std::optional<std::string> mismatch(const std::string& text, const Expected& want) {
  auto v = parse_value(text);
  if (!v) return "Value '" + text + "' does not parse: " + v.error();
  auto time_unit = kTimeUnits.find(v->unit);
  if (want.duration) {
    if (time_unit == kTimeUnits.end())
      return "Value '" + text + "' must be a duration (ms, s, min, h or d)";
    int64_t us = 0;
    if (__builtin_mul_overflow(static_cast<int64_t>(v->digits), time_unit->second, &us))
      return "Value '" + text + "' is too large";
    const auto scale = static_cast<int64_t>(power_of_ten(v->decimals));
    if (us % scale != 0) return "Value '" + text + "' is not a whole number of microseconds";
    if (us / scale != want.duration->count())
      return "Value '" + text + "' is " + std::to_string(us / scale) + " µs, the constant " +
             std::to_string(want.duration->count()) + " µs";
    return std::nullopt;
  }
  if (time_unit != kTimeUnits.end() || v->unit != want.unit)
    return "Value '" + text + "' must be in '" + want.unit + "'";
  const double got = static_cast<double>(v->digits) / power_of_ten(v->decimals);
  if (got != want.number) {
    std::ostringstream why;
    why << std::setprecision(17) << "Value '" << text << "' is " << got << ", the constant "
        << want.number;
    return why.str();
  }
  return std::nullopt;
}

std::map<std::string, Expected> constants() {
  std::map<std::string, Expected> out;
  for (const auto& [name, want] : kConstants) {
    EXPECT_TRUE(out.emplace(name, want).second) << name << " is twice in kConstants";
    EXPECT_TRUE(want.duration || kUnits.count(want.unit))
        << name << "'s unit '" << want.unit << "' is not one of kUnits";
  }
  return out;
}

// --- tests -------------------------------------------------------------------------------------

TEST(ProtocolLimits, ValueSyntax) {
  auto v = parse_value("4,000,000 bytes");
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(v->digits, 4'000'000u);
  EXPECT_EQ(v->decimals, 0);
  EXPECT_EQ(v->unit, "bytes");
  v = parse_value("0.1 per s");
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(v->digits, 1u);
  EXPECT_EQ(v->decimals, 1);
  EXPECT_EQ(v->unit, "per s");
  v = parse_value("16");
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(v->digits, 16u);
  EXPECT_EQ(v->unit, "");
  for (const char* bad : {"4000000 bytes", "4,00,000 bytes", ",400 bytes", "4,000, bytes", "1. s",
                          "10s", "ten s", "10 seconds", "010 s", "", " 10 s"})
    EXPECT_FALSE(parse_value(bad)) << "'" << bad << "' should not parse";

  // A duration may be written in any time unit; other units must match exactly.
  EXPECT_EQ(mismatch("120 s", time_value(std::chrono::minutes(2))), std::nullopt);
  EXPECT_EQ(mismatch("2 min", time_value(std::chrono::seconds(120))), std::nullopt);
  EXPECT_EQ(mismatch("0.5 s", time_value(std::chrono::milliseconds(500))), std::nullopt);
  EXPECT_EQ(mismatch("30 d", time_value(std::chrono::hours(720))), std::nullopt);
  EXPECT_NE(mismatch("121 s", time_value(std::chrono::minutes(2))), std::nullopt);
  EXPECT_NE(mismatch("2 entries", time_value(std::chrono::minutes(2))), std::nullopt);
  EXPECT_EQ(mismatch("0.1 per s", number_value(0.1, "per s")), std::nullopt);
  EXPECT_NE(mismatch("0.2 per s", number_value(0.1, "per s")), std::nullopt);
  EXPECT_NE(mismatch("100 entries", number_value(100, "points")), std::nullopt);
  EXPECT_NE(mismatch("100 s", number_value(100, "")), std::nullopt);
}

TEST(ProtocolLimits, EveryRowMatchesItsConstant) {
  const std::map<std::string, Expected> known = constants();
  const std::vector<Row> rows = read_rows();
  ASSERT_GE(rows.size(), kConstants.size()) << "docs/protocol.md lacks §11's rows";
  for (const Row& r : rows) {
    auto it = known.find(r.constant);
    if (it == known.end()) {
      ADD_FAILURE() << "docs/protocol.md:" << r.line << ": " << r.constant
                    << " is not in kConstants of this test: add it there, one line";
      continue;
    }
    if (auto why = mismatch(r.value, it->second))
      ADD_FAILURE() << "docs/protocol.md:" << r.line << ": " << r.constant << ": " << *why;
  }
}

TEST(ProtocolLimits, EveryConstantHasOneRow) {
  std::map<std::string, int> rows_of;
  for (const Row& r : read_rows())
    ++rows_of[r.constant];
  for (const auto& [name, want] : constants()) {
    const int n = rows_of.count(name) ? rows_of.at(name) : 0;
    EXPECT_EQ(n, 1) << name << " has " << n << " rows in docs/protocol.md §11 (one is right)";
  }
}

TEST(ProtocolDoc, DevnetProducerKeys) {
  const std::vector<std::string> lines = read_lines();
  size_t at = 0;
  while (at < lines.size() && lines[at] != "<!-- devnet-producers -->")
    ++at;
  ASSERT_LT(at, lines.size()) << "docs/protocol.md lacks <!-- devnet-producers -->";
  size_t listed = 0;
  for (++at; at < lines.size() && lines[at].rfind("|", 0) == 0; ++at) {
    const std::vector<std::string> cells = cells_of(lines[at]);
    if (is_separator(cells) || cells.at(0) == "i") continue;
    ASSERT_EQ(cells.size(), 3u) << lines[at];
    const size_t i = std::stoul(cells[0]);
    ASSERT_LT(i, kDevnetProducers);
    const KeyPair key = devnet_producer_key(i);
    EXPECT_EQ(cells[1], "`" + to_hex(key.seed()) + "`") << "seed of producer " << i;
    EXPECT_EQ(cells[2], "`" + to_hex(key.public_key()) + "`") << "public key of producer " << i;
    EXPECT_EQ(key.public_key(), devnet_params().producers.at(i));
    ++listed;
  }
  EXPECT_EQ(listed, kDevnetProducers);
}

}  // namespace
}  // namespace hearsay
