#include "p2p/sketch.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace hearsay::p2p {

// ---- GF(2^32) ----

namespace detail {

static_assert(gf32::kModulusLow == 0x8d, "reduce() folds with the shifts of x^7 + x^3 + x^2 + 1");

uint32_t reduce(uint64_t z) {
  // z = lo + x^32·hi and x^32 = x^7 + x^3 + x^2 + 1: fold hi in (up to 38 bits), then fold the
  // (at most 7) bits that spill over 32 once more.
  const uint64_t hi = z >> 32;
  const uint64_t t = hi ^ (hi << 2) ^ (hi << 3) ^ (hi << 7);
  const auto spill = static_cast<uint32_t>(t >> 32);
  return static_cast<uint32_t>(z) ^ static_cast<uint32_t>(t) ^ spill ^ (spill << 2) ^ (spill << 3) ^
         (spill << 7);
}

uint64_t clmul_portable(uint32_t a, uint32_t b) {
  // Integer multiplication with holes: split each operand into four lanes holding every fourth
  // bit. In the integer product of two lanes at most 8 bit pairs meet at any position, so each
  // column sum (at most 8) stays inside its own 4 bits and its low bit is the carry-less
  // column. Each result lane gathers the four lane products that land on it.
  constexpr uint32_t kLane0 = 0x11111111, kLane1 = 0x22222222, kLane2 = 0x44444444,
                     kLane3 = 0x88888888;
  const uint64_t a0 = a & kLane0, a1 = a & kLane1, a2 = a & kLane2, a3 = a & kLane3;
  const uint64_t b0 = b & kLane0, b1 = b & kLane1, b2 = b & kLane2, b3 = b & kLane3;
  const uint64_t z0 = (a0 * b0) ^ (a1 * b3) ^ (a2 * b2) ^ (a3 * b1);
  const uint64_t z1 = (a0 * b1) ^ (a1 * b0) ^ (a2 * b3) ^ (a3 * b2);
  const uint64_t z2 = (a0 * b2) ^ (a1 * b1) ^ (a2 * b0) ^ (a3 * b3);
  const uint64_t z3 = (a0 * b3) ^ (a1 * b2) ^ (a2 * b1) ^ (a3 * b0);
  return (z0 & 0x1111111111111111) | (z1 & 0x2222222222222222) | (z2 & 0x4444444444444444) |
         (z3 & 0x8888888888888888);
}

uint32_t mul_portable(uint32_t a, uint32_t b) {
  return reduce(clmul_portable(a, b));
}

}  // namespace detail

namespace {

struct PortableMul {
  static uint64_t clmul(uint32_t a, uint32_t b) { return detail::clmul_portable(a, b); }
};

#if defined(__x86_64__)
// Not always_inline: the kernels below inline it only into their pclmul-enabled instances.
struct ClmulMul {
  __attribute__((target("pclmul"))) static uint64_t clmul(uint32_t a, uint32_t b) {
    const __m128i p = _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(a)),
                                           _mm_cvtsi32_si128(static_cast<int>(b)), 0);
    return static_cast<uint64_t>(_mm_cvtsi128_si64(p));
  }
};
#endif

// The kernels, written once over a multiplier M and instantiated per implementation (the
// pclmul instance inside functions compiled for pclmul, so that the multiply inlines).
template <class M>
[[gnu::always_inline]] inline uint32_t mul_t(uint32_t a, uint32_t b) {
  return detail::reduce(M::clmul(a, b));
}

// dst[i] ^= k·src[i] for i < n.
template <class M>
[[gnu::always_inline]] inline void axpy_t(uint32_t* dst, const uint32_t* src, size_t n,
                                          uint32_t k) {
  for (size_t i = 0; i < n; ++i)
    dst[i] ^= mul_t<M>(k, src[i]);
}

// Σ a[i]·b_end[-1-i] for i < n, reduced once (reduction is linear).
template <class M>
[[gnu::always_inline]] inline uint32_t dot_rev_t(const uint32_t* a, const uint32_t* b_end,
                                                 size_t n) {
  uint64_t acc = 0;
  for (size_t i = 0; i < n; ++i)
    acc ^= M::clmul(a[i], *(b_end - 1 - i));
  return detail::reduce(acc);
}

// s[i] ^= x^(2i+1) for i < n: four independent chains stepping by x^8, so that the multiplies'
// latencies overlap.
template <class M>
[[gnu::always_inline]] inline void add_odd_powers_t(uint32_t* s, size_t n, uint32_t x) {
  const uint32_t x2 = gf32::sqr(x);
  uint32_t p[4];
  p[0] = x;
  for (int j = 1; j < 4; ++j)
    p[j] = mul_t<M>(p[j - 1], x2);
  const uint32_t step = gf32::sqr(gf32::sqr(x2));
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int j = 0; j < 4; ++j) {
      s[i + j] ^= p[j];
      p[j] = mul_t<M>(p[j], step);
    }
  }
  for (size_t j = 0; i + j < n; ++j)
    s[i + j] ^= p[j];
}

struct Kernels {
  uint32_t (*mul)(uint32_t, uint32_t);
  void (*axpy)(uint32_t*, const uint32_t*, size_t, uint32_t);
  uint32_t (*dot_rev)(const uint32_t*, const uint32_t*, size_t);
  void (*add_odd_powers)(uint32_t*, size_t, uint32_t);
};

uint32_t mul_p(uint32_t a, uint32_t b) {
  return mul_t<PortableMul>(a, b);
}
void axpy_p(uint32_t* d, const uint32_t* s, size_t n, uint32_t k) {
  axpy_t<PortableMul>(d, s, n, k);
}
uint32_t dot_rev_p(const uint32_t* a, const uint32_t* b, size_t n) {
  return dot_rev_t<PortableMul>(a, b, n);
}
void powers_p(uint32_t* s, size_t n, uint32_t x) {
  add_odd_powers_t<PortableMul>(s, n, x);
}
constexpr Kernels kPortableKernels{mul_p, axpy_p, dot_rev_p, powers_p};

#if defined(__x86_64__)
__attribute__((target("pclmul"))) uint32_t mul_c(uint32_t a, uint32_t b) {
  return mul_t<ClmulMul>(a, b);
}
__attribute__((target("pclmul"))) void axpy_c(uint32_t* d, const uint32_t* s, size_t n,
                                              uint32_t k) {
  axpy_t<ClmulMul>(d, s, n, k);
}
__attribute__((target("pclmul"))) uint32_t dot_rev_c(const uint32_t* a, const uint32_t* b,
                                                     size_t n) {
  return dot_rev_t<ClmulMul>(a, b, n);
}
__attribute__((target("pclmul"))) void powers_c(uint32_t* s, size_t n, uint32_t x) {
  add_odd_powers_t<ClmulMul>(s, n, x);
}
constexpr Kernels kClmulKernels{mul_c, axpy_c, dot_rev_c, powers_c};
#endif

const Kernels& kernels([[maybe_unused]] detail::MulImpl impl) {
#if defined(__x86_64__)
  if (impl == detail::MulImpl::kClmul && detail::have_clmul()) return kClmulKernels;
#endif
  return kPortableKernels;
}

const Kernels& best_kernels() {
  static const Kernels& k = kernels(detail::best_mul_impl());
  return k;
}

}  // namespace

namespace detail {

bool have_clmul() {
#if defined(__x86_64__)
  static const bool kHasClmul = __builtin_cpu_supports("pclmul");
  return kHasClmul;
#else
  return false;
#endif
}

MulImpl best_mul_impl() {
  return have_clmul() ? MulImpl::kClmul : MulImpl::kPortable;
}

uint32_t mul_with(MulImpl impl, uint32_t a, uint32_t b) {
  return kernels(impl).mul(a, b);
}

void add_odd_powers(MulImpl impl, std::span<uint32_t> syndromes, uint32_t x) {
  if (x == 0) return;
  kernels(impl).add_odd_powers(syndromes.data(), syndromes.size(), x);
}

}  // namespace detail

namespace gf32 {

uint32_t mul(uint32_t a, uint32_t b) {
  return best_kernels().mul(a, b);
}

uint32_t sqr(uint32_t a) {
  // Squaring is linear in characteristic 2: spread the bits to the even positions, reduce.
  uint64_t x = a;
  x = (x | (x << 16)) & 0x0000ffff0000ffff;
  x = (x | (x << 8)) & 0x00ff00ff00ff00ff;
  x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0f;
  x = (x | (x << 2)) & 0x3333333333333333;
  x = (x | (x << 1)) & 0x5555555555555555;
  return detail::reduce(x);
}

uint32_t inv(uint32_t a) {
  // a^-1 = a^(2^32 - 2) = (a^(2^31 - 1))^2. With e(k) = a^(2^k - 1): e(2k) = e(k)^(2^k)·e(k)
  // and e(k+1) = e(k)^2·a, so 1 -> 2 -> 3 -> 6 -> 7 -> 14 -> 15 -> 30 -> 31 takes 30 squarings
  // and 8 multiplications. inv(0) is 0.
  auto sqr_n = [](uint32_t v, int n) {
    for (int i = 0; i < n; ++i)
      v = sqr(v);
    return v;
  };
  uint32_t e = a;            // e(1)
  e = mul(sqr_n(e, 1), e);   // e(2)
  e = mul(sqr(e), a);        // e(3)
  e = mul(sqr_n(e, 3), e);   // e(6)
  e = mul(sqr(e), a);        // e(7)
  e = mul(sqr_n(e, 7), e);   // e(14)
  e = mul(sqr(e), a);        // e(15)
  e = mul(sqr_n(e, 15), e);  // e(30)
  e = mul(sqr(e), a);        // e(31)
  return sqr(e);
}

}  // namespace gf32

// ---- Decoding ----

namespace {

// A polynomial over GF(2^32), coefficients from x^0 up, without leading zeros (the zero
// polynomial is empty).
using Poly = std::vector<uint32_t>;

void trim(Poly& p) {
  while (!p.empty() && p.back() == 0)
    p.pop_back();
}

size_t degree(const Poly& p) {
  return p.size() - 1;  // callers never ask for the zero polynomial's
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

// One decode: the field kernels and the work count that bounds the splitting phase.
class Decoder {
 public:
  explicit Decoder(std::span<const uint32_t> odd) : m_odd(odd), m_k(best_kernels()) {
    for (uint32_t s : odd)
      m_rng = splitmix64(m_rng) ^ s;
  }

  std::optional<std::vector<uint32_t>> run() {
    std::optional<Poly> f = locator();
    if (!f) return std::nullopt;
    const size_t deg = degree(*f);
    if (deg == 0) return std::vector<uint32_t>{};
    if ((*f)[0] == 0) return std::nullopt;  // a zero root, or deg Λ < L
    std::vector<Poly> powers;
    if (!frobenius_powers(*f, powers, true)) return std::nullopt;
    m_budget = Sketch::kSplitWorkFactor * 32 * deg * deg + kSplitWorkPerRoot * deg;
    m_work = 0;
    std::vector<uint32_t> roots;
    if (!find_roots(std::move(*f), std::move(powers), roots)) return std::nullopt;
    return roots;
  }

 private:
  // Berlekamp–Massey over s_1..s_2c: returns f(z) = z^L·Λ(1/z) (L = len, the LFSR's length),
  // or nullopt when L > c.
  std::optional<Poly> locator() {
    const size_t c = m_odd.size(), n_syn = 2 * c;
    std::vector<uint32_t> s(n_syn);  // s[k-1] = s_k
    for (size_t k = 1; k <= n_syn; ++k)
      s[k - 1] = (k % 2 == 1) ? m_odd[k / 2] : gf32::sqr(s[k / 2 - 1]);
    Poly conn(n_syn + 1, 0), prev(n_syn + 1, 0), saved;
    conn[0] = prev[0] = 1;
    size_t len = 0, m = 1;
    uint32_t b_inv = 1;
    for (size_t n = 0; n < n_syn; ++n) {
      const uint32_t d = s[n] ^ m_k.dot_rev(&conn[1], &s[n], len);  // len <= n
      if (d == 0) {
        ++m;
        continue;
      }
      const uint32_t q = m_k.mul(d, b_inv);
      if (2 * len <= n) {
        saved = conn;
        m_k.axpy(&conn[m], prev.data(), n_syn + 1 - m, q);
        len = n + 1 - len;
        if (len > c) return std::nullopt;
        prev.swap(saved);
        b_inv = gf32::inv(d);
        m = 1;
      } else {
        m_k.axpy(&conn[m], prev.data(), n_syn + 1 - m, q);
        ++m;
      }
    }
    // Berlekamp–Massey keeps deg conn <= len; checked rather than trusted.
    if (std::any_of(conn.begin() + static_cast<ptrdiff_t>(len) + 1, conn.end(),
                    [](uint32_t v) { return v != 0; }))
      return std::nullopt;
    // Reversed: f[i] = conn[len - i].
    Poly f(conn.rbegin() + static_cast<ptrdiff_t>(n_syn - len), conn.rend());
    return f;
  }

  // a = a mod g (g monic), optionally collecting the quotient.
  void divmod(Poly& a, const Poly& g, Poly* quotient = nullptr) {
    const size_t m = degree(g);
    if (a.size() <= m) return;
    if (quotient) quotient->assign(a.size() - m, 0);
    for (size_t i = a.size(); i-- > m;) {
      const uint32_t q = a[i];
      if (q == 0) continue;
      if (quotient) (*quotient)[i - m] = q;
      m_k.axpy(&a[i - m], g.data(), m, q);
      a[i] = 0;
      m_work += m;
    }
    a.resize(m);
    trim(a);
  }

  Poly sqr_mod(const Poly& p, const Poly& g) {
    Poly out(p.empty() ? 0 : 2 * p.size() - 1, 0);
    for (size_t i = 0; i < p.size(); ++i)
      out[2 * i] = gf32::sqr(p[i]);
    divmod(out, g);
    return out;
  }

  // powers[k] = x^(2^k) mod g for k < 32. With `check`, returns whether x^(2^32) == x mod g,
  // i.e. whether g divides x^(2^32) - x: then it splits into distinct linear factors.
  bool frobenius_powers(const Poly& g, std::vector<Poly>& powers, bool check) {
    powers.assign(32, Poly());
    powers[0] = {0, 1};
    divmod(powers[0], g);
    for (size_t k = 1; k < 32; ++k)
      powers[k] = sqr_mod(powers[k - 1], g);
    return !check || sqr_mod(powers[31], g) == powers[0];
  }

  void make_monic(Poly& p) {
    const uint32_t li = gf32::inv(p.back());
    for (uint32_t& v : p)
      v = m_k.mul(v, li);
    m_work += p.size() + kInverseCost;
  }

  Poly gcd(Poly a, Poly b) {
    while (!b.empty()) {
      make_monic(b);
      divmod(a, b);
      a.swap(b);
    }
    if (!a.empty()) make_monic(a);
    return a;
  }

  // Splits f (monic, a product of distinct linear factors, `powers` its Frobenius powers)
  // into its roots.
  bool find_roots(Poly f, std::vector<Poly> powers, std::vector<uint32_t>& roots) {
    const size_t deg = degree(f);
    std::vector<Poly> todo;
    todo.push_back(std::move(f));
    bool first = true;
    while (!todo.empty()) {
      Poly g = std::move(todo.back());
      todo.pop_back();
      if (degree(g) == 1) {
        roots.push_back(g[0]);
        continue;
      }
      if (!first) frobenius_powers(g, powers, false);
      first = false;
      Poly h = split(g, powers);
      if (h.empty()) return false;
      Poly rest;
      divmod(g, h, &rest);
      if (!g.empty()) return false;           // h does not divide g: impossible for a gcd
      todo.emplace_back(h.begin(), h.end());  // exact-size copies keep memory O(L)
      todo.emplace_back(rest.begin(), rest.end());
      if (m_work > m_budget) return false;
    }
    std::sort(roots.begin(), roots.end());
    return roots.size() == deg && std::adjacent_find(roots.begin(), roots.end()) == roots.end() &&
           roots.front() != 0;
  }

  // A proper factor of g (degree >= 2), or the zero polynomial if none was found.
  Poly split(const Poly& g, const std::vector<Poly>& powers) {
    const size_t m = degree(g);
    uint32_t r = 0;
    while (r == 0)
      r = static_cast<uint32_t>(splitmix64(m_rng));
    for (int k = 0; k < 32; ++k) {
      // β = r·x^k: uniform for each k, and a basis over the 32 tries (see the header).
      uint32_t beta = gf32::mul(r, uint32_t{1} << k);
      Poly t(m, 0);
      for (const Poly& p : powers) {  // Tr(β·x) = Σ β^(2^j)·x^(2^j)
        m_k.axpy(t.data(), p.data(), p.size(), beta);
        beta = gf32::sqr(beta);
      }
      m_work += 32 * m;
      trim(t);
      Poly h = gcd(g, std::move(t));
      if (!h.empty() && degree(h) > 0 && degree(h) < m) return h;
      if (m_work > m_budget) break;
    }
    return Poly();
  }

  // gf32::inv in multiplications (31 squarings and 8 products).
  static constexpr size_t kInverseCost = 39;
  // The budget's linear term: enough for all 32 tries on a factor of small degree, where
  // the quadratic term leaves little room.
  static constexpr size_t kSplitWorkPerRoot = 4096;

  std::span<const uint32_t> m_odd;
  const Kernels& m_k;
  uint64_t m_rng = 0x5ce7c4ULL;
  size_t m_work = 0, m_budget = 0;
};

}  // namespace

// ---- Sketch ----

Sketch::Sketch(size_t capacity) {
  if (capacity == 0 || capacity > kMaxCapacity)
    throw std::invalid_argument("sketch capacity out of range");
  m_syndromes.assign(capacity, 0);
}

void Sketch::add(uint32_t element) {
  if (element == 0) return;
  best_kernels().add_odd_powers(m_syndromes.data(), m_syndromes.size(), element);
}

void Sketch::merge(const Sketch& other) {
  if (other.capacity() != capacity())
    throw std::invalid_argument("merging sketches of different capacities");
  for (size_t i = 0; i < m_syndromes.size(); ++i)
    m_syndromes[i] ^= other.m_syndromes[i];
}

bool Sketch::empty() const {
  return std::all_of(m_syndromes.begin(), m_syndromes.end(), [](uint32_t v) { return v == 0; });
}

std::vector<uint8_t> Sketch::serialize() const {
  std::vector<uint8_t> out;
  out.reserve(serialized_size());
  for (uint32_t v : m_syndromes)
    for (int i = 0; i < 4; ++i)
      out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return out;
}

std::optional<Sketch> Sketch::parse(std::span<const uint8_t> bytes) {
  if (bytes.empty() || bytes.size() % 4 != 0 || bytes.size() > 4 * kMaxCapacity)
    return std::nullopt;
  Sketch s(bytes.size() / 4);
  for (size_t i = 0; i < s.m_syndromes.size(); ++i) {
    const uint8_t* p = &bytes[4 * i];
    s.m_syndromes[i] =
        uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
  }
  return s;
}

std::optional<std::vector<uint32_t>> Sketch::decode() const {
  std::optional<std::vector<uint32_t>> set = Decoder(m_syndromes).run();
  if (!set) return std::nullopt;
  // The final guard: the decoded set must reproduce this sketch exactly.
  Sketch again(capacity());
  for (uint32_t e : *set)
    again.add(e);
  if (again != *this) return std::nullopt;
  return set;
}

}  // namespace hearsay::p2p
