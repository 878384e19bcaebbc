#include "node/inject.h"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <ostream>
#include <thread>
#include <tuple>

#include "chainstub/params.h"
#include "crypto/hash.h"
#include "crypto/hex.h"
#include "mempool/policy.h"
#include "node/cli.h"
#include "node/options.h"
#include "node/rpc_server.h"

namespace hearsay {

namespace json = boost::json;

namespace {

using Clock = std::chrono::steady_clock;

// Distinct reject reasons kept for the summary; more share one "(other reasons)" entry.
constexpr size_t kMaxRejectReasons = 32;
// Longest reject reason kept (a rule name is a word or two; a message without one is cut).
constexpr size_t kMaxReasonLength = 64;
// Batches of getnextnonce queries (--start-nonce next).
constexpr size_t kNonceQueryBatch = 100;
// Progress: a bar redrawn this often on a terminal, a line this often otherwise.
constexpr std::chrono::milliseconds kBarInterval{200};
constexpr std::chrono::milliseconds kLineInterval{1000};

int64_t wall_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

enum class Outcome : uint8_t { kPending, kAccepted, kAlreadyHeld, kRejected, kFailed };

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kAccepted:
      return "accepted";
    case Outcome::kAlreadyHeld:
      return "already-held";
    case Outcome::kRejected:
      return "rejected";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kPending:
      break;
  }
  return "pending";
}

struct Record {
  int64_t submit_us = 0;
  uint32_t endpoint = 0;
  Outcome outcome = Outcome::kPending;
  std::string error;  // when not accepted
};

struct Progress {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> already_held{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> failed{0};
  uint64_t answered() const { return accepted + already_held + rejected + failed; }
};

std::string format_eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<uint64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%llu:%02llu:%02llu", (unsigned long long)(s / 3600),
                  (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
  else
    std::snprintf(buf, sizeof(buf), "%llu:%02llu", (unsigned long long)(s / 60),
                  (unsigned long long)(s % 60));
  return buf;
}

void print_progress(std::ostream& os, bool tty, uint64_t count, const Progress& p, double elapsed,
                    bool final) {
  const uint64_t done = p.answered();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  const double eta = rate > 0 ? static_cast<double>(count - done) / rate : NAN;
  const double frac = count > 0 ? static_cast<double>(done) / static_cast<double>(count) : 1;
  char line[256];
  if (tty) {
    constexpr int kWidth = 30;
    int filled = static_cast<int>(frac * kWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(kWidth - filled), '-');
    std::snprintf(line, sizeof(line), "\r\033[K[%s] %5.1f%% %llu/%llu  %.0f tx/s  ETA %s",
                  bar.c_str(), frac * 100, (unsigned long long)done, (unsigned long long)count,
                  rate, final ? "0:00" : format_eta(eta).c_str());
    os << line;
    if (final) os << "\n";
  } else {
    std::snprintf(line, sizeof(line),
                  "inject: %llu/%llu answered (%.0f%%): %llu accepted, %llu already held, %llu "
                  "rejected, %llu failed; %.0f tx/s; ETA %s\n",
                  (unsigned long long)done, (unsigned long long)count, frac * 100,
                  (unsigned long long)p.accepted.load(), (unsigned long long)p.already_held.load(),
                  (unsigned long long)p.rejected.load(), (unsigned long long)p.failed.load(), rate,
                  final ? "0:00" : format_eta(eta).c_str());
    os << line;
  }
  os.flush();
}

// Asks the node behind `source` for each sender's next nonce, in batches.
Result<std::vector<uint64_t>, std::string> query_next_nonces(RpcClientConfig c,
                                                             const std::vector<KeyPair>& keys,
                                                             std::string_view tool) {
  const std::string what = std::string(tool) + ": getnextnonce";
  c.keep_alive = true;
  RpcClient client(c);
  std::vector<uint64_t> out;
  out.reserve(keys.size());
  for (size_t first = 0; first < keys.size(); first += kNonceQueryBatch) {
    std::vector<RpcCall> calls;
    for (size_t i = first; i < std::min(keys.size(), first + kNonceQueryBatch); ++i)
      calls.push_back(
          RpcCall{"getnextnonce", json::array{json::string(to_hex(keys[i].public_key()))}});
    auto r = client.call_batch(calls);
    if (!r) return fail(what + ": " + r.error().one_line());
    for (auto& one : *r) {
      if (!one) return fail(what + ": " + one.error().one_line());
      json::error_code ec;
      uint64_t n = one->is_number() ? one->to_number<uint64_t>(ec) : 0;
      if (!one->is_number() || ec)
        return fail(what + " answered " + json::serialize(*one) +
                    ", not a nonce (use --start-nonce N)");
      out.push_back(n);
    }
  }
  return out;
}

// Builds and signs every transaction, `threads` at a time.
std::vector<TxRef> sign_all(const LoadOptions& o, const std::vector<KeyPair>& keys,
                            const std::vector<uint64_t>& first_nonce, size_t payload_len,
                            unsigned threads) {
  std::vector<TxRef> txs(o.count);
  TxTemplate t;
  t.network = o.network.value_or(kDevnetMagic);
  t.fee = o.fee;
  t.payload.assign(payload_len, 0);
  for_each_striped(o.count, threads, [&](uint64_t i) {
    const size_t s = i % keys.size();
    txs[i] = build_tx(t, keys[s], first_nonce[s] + i / keys.size());
  });
  return txs;
}

struct SendState {
  const InjectOptions& o;
  const std::vector<TxRef>& txs;
  size_t batch;
  std::vector<Record> records;
  Progress progress;
  std::atomic<uint64_t> next_batch{0};
  std::mutex mutex;  // guards reasons and the finish count
  std::map<std::string, uint64_t> reasons;
  std::condition_variable finished_cv;
  size_t finished = 0;
  Clock::time_point start;
};

void note_reason(SendState& st, const std::string& reason) {
  std::lock_guard lock(st.mutex);
  auto it = st.reasons.find(reason);
  if (it != st.reasons.end())
    ++it->second;
  else if (st.reasons.size() < kMaxRejectReasons)
    st.reasons.emplace(reason, 1);
  else
    ++st.reasons["(other reasons)"];
}

// Records one transaction's answer: `one` its own result, or `whole` the batch's failure.
// sendrawtransaction's verbose answer says "accepted" or "already-held"; a bare txid (a node
// without the verbose form) counts as accepted.
void record_answer(SendState& st, Record& rec, const RpcClient::CallResult* one,
                   const RpcClientError* whole) {
  if (one != nullptr && *one) {
    const json::object* o = (*one)->if_object();
    const json::value* result = o != nullptr ? o->if_contains("result") : nullptr;
    if (result != nullptr && result->is_string() && result->get_string() == "already-held") {
      rec.outcome = Outcome::kAlreadyHeld;
      ++st.progress.already_held;
    } else {
      rec.outcome = Outcome::kAccepted;
      ++st.progress.accepted;
    }
    return;
  }
  const RpcClientError& err = one != nullptr ? one->error() : *whole;
  rec.error = err.one_line();
  if (err.rpc_code) {
    rec.outcome = Outcome::kRejected;
    ++st.progress.rejected;
    note_reason(st, inject_reject_reason(err.message));
  } else {
    rec.outcome = Outcome::kFailed;
    ++st.progress.failed;
  }
}

void send_worker(SendState& st) {
  const InjectOptions& o = st.o;
  std::vector<std::optional<RpcClient>> clients(o.endpoints.size());
  const uint64_t count = o.count;
  for (;;) {
    const uint64_t k = st.next_batch.fetch_add(1);
    const uint64_t first = k * st.batch;
    if (first >= count) break;
    const uint64_t last = std::min<uint64_t>(count, first + st.batch);
    if (o.rate > 0) {
      auto due = st.start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(static_cast<double>(first) / o.rate));
      std::this_thread::sleep_until(due);
    }
    const size_t e = static_cast<size_t>(k % o.endpoints.size());
    if (!clients[e]) {
      RpcClientConfig c = o.endpoints[e];
      c.keep_alive = true;
      clients[e].emplace(std::move(c));
    }
    std::vector<RpcCall> calls;
    calls.reserve(last - first);
    for (uint64_t i = first; i < last; ++i)
      calls.push_back(RpcCall{"sendrawtransaction",
                              json::array{json::string(to_hex(st.txs[i]->encoding())), true}});
    const int64_t t = wall_now_us();
    auto r = clients[e]->call_batch(calls);
    for (uint64_t i = first; i < last; ++i) {
      Record& rec = st.records[i];
      rec.submit_us = t;
      rec.endpoint = static_cast<uint32_t>(e);
      record_answer(st, rec, r ? &(*r)[i - first] : nullptr, r ? nullptr : &r.error());
    }
  }
  std::lock_guard lock(st.mutex);
  ++st.finished;
  st.finished_cv.notify_all();
}

std::string endpoint_name(const RpcClientConfig& c) {
  return c.host.find(':') != std::string::npos ? "[" + c.host + "]:" + std::to_string(c.port)
                                               : c.host + ":" + std::to_string(c.port);
}

// Sends every transaction on `workers` threads (restarting st.start), printing progress
// until the last worker finishes.
void send_all(SendState& st, size_t workers, std::ostream& progress, bool tty) {
  st.start = Clock::now();
  std::vector<std::thread> pool;
  for (size_t w = 0; w < workers; ++w)
    pool.emplace_back([&st] { send_worker(st); });
  {
    std::unique_lock lock(st.mutex);
    const auto interval = tty ? kBarInterval : kLineInterval;
    while (!st.finished_cv.wait_for(lock, interval, [&] { return st.finished == workers; })) {
      lock.unlock();
      print_progress(progress, tty, st.o.count, st.progress, seconds_since(st.start), false);
      lock.lock();
    }
  }
  for (auto& th : pool)
    th.join();
}

// --out: one JSON line per transaction (id, node, submit time, outcome).
Status write_records(std::ofstream& out, const SendState& st) {
  const InjectOptions& o = st.o;
  std::vector<std::string> names;
  for (const auto& e : o.endpoints)
    names.push_back(endpoint_name(e));
  for (uint64_t i = 0; i < o.count; ++i) {
    const Record& r = st.records[i];
    json::object line;
    line["id"] = to_hex(st.txs[i]->id());
    line["node"] = names[r.endpoint];
    line["t"] = r.submit_us;
    line["accepted"] = r.outcome == Outcome::kAccepted;
    line["outcome"] = outcome_name(r.outcome);
    if (r.outcome == Outcome::kRejected || r.outcome == Outcome::kFailed) line["error"] = r.error;
    out << json::serialize(line) << '\n';
  }
  out.flush();
  if (!out)
    return fail("inject: writing " + o.out_file + " failed: " + std::strerror(errno) +
                " (disk full?)");
  return {};
}

// The nodes to send to: each --rpc with its --datadir (one for all, or one per --rpc), or the
// global options' node when there is no --rpc.
Result<std::vector<RpcClientConfig>, std::string> inject_endpoints(const CliParsedArgs& p,
                                                                   const RpcClientConfig& base) {
  std::vector<RpcClientConfig> endpoints;
  std::vector<std::string> rpcs, datadirs;
  if (auto it = p.values.find("rpc"); it != p.values.end()) rpcs = it->second;
  if (auto it = p.values.find("datadir"); it != p.values.end()) datadirs = it->second;
  if (rpcs.empty()) {
    RpcClientConfig c = base;
    if (!datadirs.empty()) {
      if (datadirs.size() > 1)
        return fail(std::string("inject: several --datadir but no --rpc to pair them with"));
      c.datadir = datadirs[0];
    }
    endpoints.push_back(std::move(c));
    return endpoints;
  }
  if (datadirs.size() > 1 && datadirs.size() != rpcs.size())
    return fail("inject: " + std::to_string(datadirs.size()) + " --datadir for " +
                std::to_string(rpcs.size()) + " --rpc: give one for all, or one per --rpc");
  for (size_t i = 0; i < rpcs.size(); ++i) {
    auto hp = parse_host_port(rpcs[i], base.port);
    if (!hp) return fail("--rpc: " + hp.error());
    RpcClientConfig c = base;
    c.host = hp->host;
    c.port = hp->port;
    if (!datadirs.empty()) c.datadir = datadirs.size() == 1 ? datadirs[0] : datadirs[i];
    endpoints.push_back(std::move(c));
  }
  return endpoints;
}

// Fills `summary`'s counts from a finished send (send_seconds already set) and names the
// first failure on `progress`.
void summarize(const SendState& st, InjectSummary& summary, std::ostream& progress) {
  summary.accepted = st.progress.accepted;
  summary.already_held = st.progress.already_held;
  summary.senders = st.o.senders;
  summary.rejected = st.progress.rejected;
  summary.failed = st.progress.failed;
  summary.reject_reasons = st.reasons;
  const uint64_t answered = summary.accepted + summary.already_held + summary.rejected;
  summary.rate =
      summary.send_seconds > 0 ? static_cast<double>(answered) / summary.send_seconds : 0;
  for (const Record& r : st.records)
    if (r.outcome == Outcome::kFailed) {
      progress << "inject: first failure: " << r.error << "\n";
      break;
    }
}

// The node's per-sender limit (getmempoolinfo's max_per_sender), or nullopt when it reports
// none (an older node, or an error answer). No answer at all is an error (exit 3).
Result<std::optional<uint64_t>, ToolError> query_max_per_sender(RpcClient& client) {
  auto r = client.call("getmempoolinfo", json::array());
  if (!r && !r.error().rpc_code)
    return fail(ToolError{kCliUnreachable, "error: inject: " + r.error().message});
  const json::object* o = r ? r->if_object() : nullptr;
  const json::value* v = o != nullptr ? o->if_contains("max_per_sender") : nullptr;
  if (v == nullptr || !v->is_number()) return std::optional<uint64_t>();
  json::error_code ec;
  const auto n = v->to_number<uint64_t>(ec);
  if (ec || n == 0) return std::optional<uint64_t>();
  return std::optional<uint64_t>(n);
}

std::string magic_text(uint32_t magic) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", magic);
  return buf;
}

// The smallest per-sender limit over the endpoints and the node that has it; and, when
// `network` is unset, the network they all work on.
struct NodeFacts {
  uint64_t max_per_sender = 0;
  std::string limit_node;
  std::optional<uint32_t> magic;
};

Result<NodeFacts, ToolError> query_nodes(const InjectOptions& o) {
  NodeFacts f;
  std::string magic_node;
  for (const RpcClientConfig& e : o.endpoints) {
    RpcClient client(e);
    auto limit = query_max_per_sender(client);
    if (!limit) return fail(limit.error());
    const uint64_t l = limit->value_or(kDefaultMaxPerSender);
    if (f.max_per_sender == 0 || l < f.max_per_sender) {
      f.max_per_sender = l;
      f.limit_node = client.address();
    }
    if (o.network) continue;
    auto magic = query_node_magic(client);
    if (!magic) return fail(magic.error());
    if (f.magic && *f.magic != *magic)
      return fail(ToolError{kCliFailure, "error: inject: the nodes are on different networks (" +
                                             magic_text(*f.magic) + " at " + magic_node + ", " +
                                             magic_text(*magic) + " at " + client.address() +
                                             "); send to one network's nodes, or pass --network"});
    if (!f.magic) {
      f.magic = *magic;
      magic_node = client.address();
    }
  }
  return f;
}

}  // namespace

std::string inject_reject_reason(std::string_view message) {
  std::string_view r = message.substr(0, message.find(':'));
  while (!r.empty() && r.front() == ' ')
    r.remove_prefix(1);
  while (!r.empty() && r.back() == ' ')
    r.remove_suffix(1);
  if (r.empty()) return "(no reason given)";
  return std::string(r.substr(0, kMaxReasonLength));
}

Result<InjectOptions, ToolError> resolve_inject_options(InjectOptions o, std::ostream& progress) {
  if (o.endpoints.empty()) return fail(ToolError{kCliUsage, "inject: no --rpc endpoint"});
  auto facts = query_nodes(o);
  if (!facts) return fail(facts.error());
  if (!o.network) o.network = facts->magic;
  const uint64_t limit = facts->max_per_sender;
  const uint64_t needed = (o.count + limit - 1) / limit;
  if (o.senders == 0) {
    o.senders = load_sender_count(o.count, limit);
    if (needed <= kInjectMaxSenders) return o;
  }
  const uint64_t per_sender = (o.count + o.senders - 1) / o.senders;
  if (per_sender > limit)
    progress << "inject: warning: " << o.senders << " senders put up to " << per_sender
             << " transactions on a sender, but " << facts->limit_node << " holds at most " << limit
             << " per sender (getmempoolinfo's max_per_sender): expect about "
             << o.count - std::min<uint64_t>(o.count, limit * o.senders)
             << " sender-limit rejections; use --senders " << needed
             << " or more, or leave --senders out to have inject choose\n";
  return o;
}

std::string InjectSummary::to_json() const {
  json::object o;
  o["count"] = count;
  o["accepted"] = accepted;
  o["already_held"] = already_held;
  o["rejected"] = rejected;
  o["failed"] = failed;
  o["sign_seconds"] = std::round(sign_seconds * 1000) / 1000;
  o["send_seconds"] = std::round(send_seconds * 1000) / 1000;
  o["senders"] = senders;
  o["rate"] = std::round(rate * 10) / 10;
  json::object reasons;
  for (const auto& [r, n] : reject_reasons)
    reasons[r] = n;
  o["reject_reasons"] = std::move(reasons);
  return pretty_json(o);
}

KeyPair inject_sender_key(uint64_t seed, uint32_t index) {
  static constexpr std::string_view kTag = "hearsay/inject-sender";
  std::vector<uint8_t> msg(kTag.begin(), kTag.end());
  Writer w(msg);
  w.u64(seed).u32(index);
  return KeyPair::from_seed(sha256(msg));
}

uint32_t load_sender_count(uint64_t count, uint64_t per_sender_limit) {
  const uint64_t needed = (count + per_sender_limit - 1) / per_sender_limit;
  return static_cast<uint32_t>(
      std::clamp<uint64_t>(needed, kInjectDefaultSenders, kInjectMaxSenders));
}

unsigned load_sign_threads(const LoadOptions& o) {
  return o.sign_threads > 0 ? o.sign_threads : std::max(1u, std::thread::hardware_concurrency());
}

void for_each_striped(uint64_t count, unsigned threads, const std::function<void(uint64_t)>& fn) {
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < threads; ++w)
    pool.emplace_back([&, w] {
      for (uint64_t i = w; i < count; i += threads)
        fn(i);
    });
  for (auto& th : pool)
    th.join();
}

Result<SignedLoad, std::string> sign_load(const LoadOptions& o, const RpcClientConfig* nonce_source,
                                          std::string_view tool, std::ostream& progress) {
  auto payload_len = payload_size_for(o.size);
  if (!payload_len) return fail(payload_len.error());
  std::vector<KeyPair> keys;
  keys.reserve(o.senders);
  for (uint32_t s = 0; s < o.senders; ++s)
    keys.push_back(inject_sender_key(o.seed, s));
  std::vector<uint64_t> first_nonce(o.senders, o.start_nonce.value_or(0));
  if (!o.start_nonce) {
    if (nonce_source == nullptr)
      return fail(std::string(tool) + ": --start-nonce next needs a node to ask (--rpc)");
    auto n = query_next_nonces(*nonce_source, keys, tool);
    if (!n) return fail(n.error());
    first_nonce = std::move(*n);
  }
  const unsigned threads = load_sign_threads(o);
  progress << tool << ": signing " << o.count << " transactions of " << o.size << " bytes from "
           << o.senders << " senders on " << threads << " threads\n";
  progress.flush();
  const auto start = Clock::now();
  SignedLoad load;
  load.txs = sign_all(o, keys, first_nonce, *payload_len, threads);
  load.sign_seconds = seconds_since(start);
  return load;
}

size_t inject_batch_size(const InjectOptions& o) {
  // Keep a batch request well under the server's body limit: hex doubles the size, and each
  // call's JSON wrapping adds ~100 bytes.
  const size_t by_body = std::max<size_t>(1, (kRpcMaxBodyBytes * 3 / 4) / (2 * o.size + 128));
  size_t b = o.batch;
  if (b == 0) {
    // ~50 batches a second at the target rate keeps the pacing smooth (20 ms steps).
    b = o.rate <= 0 ? kInjectMaxBatch
                    : static_cast<size_t>(std::clamp(std::ceil(o.rate / 50), 1.0,
                                                     static_cast<double>(kInjectMaxBatch)));
  }
  return std::clamp<size_t>(std::min(b, by_body), 1, kInjectMaxBatch);
}

Result<InjectSummary, std::string> run_inject(const InjectOptions& options, std::ostream& progress,
                                              bool tty) {
  if (options.endpoints.empty()) return fail(std::string("inject: no --rpc endpoint"));
  InjectOptions o = options;
  if (o.senders == 0 || !o.network) {
    auto resolved = resolve_inject_options(o, progress);
    if (!resolved) return fail(resolved.error().message);
    o = std::move(*resolved);
  }
  crypto_init();

  std::ofstream out;
  if (!o.out_file.empty()) {
    out.open(o.out_file, std::ios::out | std::ios::trunc);
    if (!out)
      return fail("inject: cannot write " + o.out_file + ": " + std::strerror(errno) +
                  " (check the directory, or change --out)");
  }

  auto signed_load = sign_load(o, &o.endpoints.front(), "inject", progress);
  if (!signed_load) return fail(signed_load.error());
  const std::vector<TxRef>& txs = signed_load->txs;
  InjectSummary summary;
  summary.count = o.count;
  summary.sign_seconds = signed_load->sign_seconds;

  SendState st{o,  txs, inject_batch_size(o), std::vector<Record>(o.count), {}, {}, {}, {},
               {}, 0,   Clock::now()};
  const size_t workers = std::clamp<size_t>(o.connections, 1, kInjectMaxConnections);
  progress << "inject: sending to " << o.endpoints.size() << " node(s) in batches of " << st.batch
           << " on " << workers << " connection(s)";
  if (o.rate > 0) progress << " at " << o.rate << " tx/s";
  progress << "\n";
  progress.flush();

  send_all(st, workers, progress, tty);
  summary.send_seconds = seconds_since(st.start);
  print_progress(progress, tty, o.count, st.progress, summary.send_seconds, true);

  summarize(st, summary, progress);
  if (out.is_open()) {
    if (Status w = write_records(out, st); !w) return fail(w.message());
  }
  return summary;
}

Result<LoadOptions, std::string> parse_load_options(const CliParsedArgs& p) {
  LoadOptions o;
  auto uint_opt = [&](const char* name, uint64_t min, uint64_t max,
                      auto& field) -> Result<bool, std::string> {
    const std::string* v = p.get(name);
    if (v == nullptr) return false;
    auto n = parse_uint(std::string("--") + name, *v, min, max);
    if (!n) return fail(n.error());
    field = static_cast<std::remove_reference_t<decltype(field)>>(*n);
    return true;
  };
  uint64_t fee = 0;
  for (const auto& r : {uint_opt("count", 1, kInjectMaxCount, o.count),
                        uint_opt("size", kMinTxSize, kMaxTxSize, o.size),
                        uint_opt("senders", 1, kInjectMaxSenders, o.senders),
                        uint_opt("seed", 0, UINT64_MAX, o.seed),
                        uint_opt("sign-threads", 1, 1024, o.sign_threads)}) {
    if (!r) return fail(r.error());
  }
  auto fee_given = uint_opt("fee", 0, UINT64_MAX, fee);
  if (!fee_given) return fail(fee_given.error());
  if (*fee_given) o.fee = fee;
  if (const std::string* r = p.get("rate")) {
    double v = 0;
    auto res = std::from_chars(r->data(), r->data() + r->size(), v);
    if (r->empty() || res.ec != std::errc() || res.ptr != r->data() + r->size() ||
        !std::isfinite(v) || v < 0 || v > 1e9)
      return fail("--rate: '" + *r + "' is not a rate in transactions per second (0 = no limit)");
    o.rate = v;
  }
  if (const std::string* s = p.get("start-nonce")) {
    if (*s == "next") {
      o.start_nonce.reset();
    } else {
      auto n = parse_uint("--start-nonce", *s);
      if (!n) return fail(n.error() + " (or 'next')");
      o.start_nonce = *n;
    }
  }
  if (const std::string* n = p.get("network")) {
    auto v = parse_network(*n);
    if (!v) return fail(v.error());
    o.network = *v;
  }
  if (const std::string* f = p.get("out")) {
    if (f->empty()) return fail(std::string("--out: must not be empty"));
    o.out_file = *f;
  }
  auto payload = payload_size_for(o.size);
  if (!payload) return fail(payload.error());
  return o;
}

Result<InjectOptions, std::string> parse_inject_args(const std::vector<std::string>& args,
                                                     const RpcClientConfig& base) {
  static const CliOptionSpec kSpecs[] = {
      {"count", true},     {"rate", true},          {"size", true},        {"senders", true},
      {"seed", true},      {"fee", true},           {"start-nonce", true}, {"network", true},
      {"rpc", true, true}, {"datadir", true, true}, {"connections", true}, {"batch", true},
      {"out", true},       {"sign-threads", true},
  };
  auto parsed = parse_cli_options("inject", args, kSpecs);
  if (!parsed) return fail(parsed.error());
  const CliParsedArgs& p = *parsed;
  if (!p.positional.empty())
    return fail("inject: unexpected argument '" + p.positional[0] +
                "' (see hearsay-cli help inject)");
  auto load = parse_load_options(p);
  if (!load) return fail(load.error());
  InjectOptions o;
  static_cast<LoadOptions&>(o) = std::move(*load);
  for (const auto& [name, max, field] :
       {std::tuple{"connections", kInjectMaxConnections, &o.connections},
        std::tuple{"batch", kInjectMaxBatch, &o.batch}}) {
    if (const std::string* v = p.get(name)) {
      auto n = parse_uint(std::string("--") + name, *v, 1, max);
      if (!n) return fail(n.error());
      *field = static_cast<size_t>(*n);
    }
  }

  auto endpoints = inject_endpoints(p, base);
  if (!endpoints) return fail(endpoints.error());
  o.endpoints = std::move(*endpoints);
  return o;
}

}  // namespace hearsay
