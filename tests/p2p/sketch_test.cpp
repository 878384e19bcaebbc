// Sketch: the GF(2^32) arithmetic against a bitwise reference, the modulus's irreducibility,
// exact decoding up to capacity, no wrong set beyond it, the wire format, hostile bytes.
#include "p2p/sketch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <stdexcept>

namespace hearsay::p2p {
namespace {

// The modulus as a 33-bit polynomial over GF(2).
constexpr uint64_t kModulus = (uint64_t{1} << 32) | gf32::kModulusLow;

// Reference arithmetic, one bit at a time, independent of sketch.cpp.
uint64_t ref_clmul(uint32_t a, uint32_t b) {
  uint64_t r = 0;
  for (int i = 0; i < 32; ++i)
    if ((b >> i) & 1) r ^= uint64_t{a} << i;
  return r;
}

// Remainder of a GF(2) polynomial (any degree below 64) modulo m.
uint64_t ref_mod(uint64_t a, uint64_t m) {
  const int dm = 63 - __builtin_clzll(m);
  for (int i = 63; i >= dm; --i)
    if ((a >> i) & 1) a ^= m << (i - dm);
  return a;
}

uint32_t ref_mul(uint32_t a, uint32_t b) {
  return static_cast<uint32_t>(ref_mod(ref_clmul(a, b), kModulus));
}

uint64_t ref_gcd(uint64_t a, uint64_t b) {
  while (b != 0) {
    a = ref_mod(a, b);
    std::swap(a, b);
  }
  return a;
}

uint32_t ref_pow(uint32_t a, uint64_t e) {
  uint32_t r = 1;
  for (; e != 0; e >>= 1) {
    if (e & 1) r = ref_mul(r, a);
    a = ref_mul(a, a);
  }
  return r;
}

uint32_t nonzero(std::mt19937_64& rng) {
  uint32_t v = 0;
  while (v == 0)
    v = static_cast<uint32_t>(rng());
  return v;
}

// n distinct nonzero values not in `avoid`.
std::vector<uint32_t> fresh_values(std::mt19937_64& rng, size_t n, std::set<uint32_t>& avoid) {
  std::vector<uint32_t> out;
  while (out.size() < n) {
    const uint32_t v = nonzero(rng);
    if (avoid.insert(v).second) out.push_back(v);
  }
  return out;
}

Sketch sketch_of(size_t capacity, const std::vector<uint32_t>& elements) {
  Sketch s(capacity);
  for (uint32_t e : elements)
    s.add(e);
  return s;
}

// Two sets sharing `common` elements, differing in `diff` (split at random between them);
// returns the merged sketch and the sorted symmetric difference.
std::pair<Sketch, std::vector<uint32_t>> reconcile(std::mt19937_64& rng, size_t capacity,
                                                   size_t common, size_t diff) {
  std::set<uint32_t> used;
  const std::vector<uint32_t> shared = fresh_values(rng, common, used);
  std::vector<uint32_t> only = fresh_values(rng, diff, used);
  std::vector<uint32_t> a = shared, b = shared;
  for (uint32_t v : only)
    (rng() % 2 ? a : b).push_back(v);
  std::shuffle(a.begin(), a.end(), rng);
  std::shuffle(b.begin(), b.end(), rng);
  Sketch sa = sketch_of(capacity, a);
  sa.merge(sketch_of(capacity, b));
  std::sort(only.begin(), only.end());
  return {sa, only};
}

// What decode() promises whatever the input: nullopt, or at most c distinct nonzero sorted
// values whose sketch is the input.
void expect_preimage_or_nullopt(const Sketch& s, const std::optional<std::vector<uint32_t>>& got) {
  if (!got) return;
  EXPECT_LE(got->size(), s.capacity());
  EXPECT_TRUE(std::is_sorted(got->begin(), got->end()));
  EXPECT_EQ(std::adjacent_find(got->begin(), got->end()), got->end());
  EXPECT_EQ(std::count(got->begin(), got->end(), 0u), 0);
  EXPECT_EQ(sketch_of(s.capacity(), *got), s);
}

TEST(Gf32, MulByOneAndZero) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 1000; ++i) {
    const auto a = static_cast<uint32_t>(rng());
    EXPECT_EQ(gf32::mul(a, 1), a);
    EXPECT_EQ(gf32::mul(1, a), a);
    EXPECT_EQ(gf32::mul(a, 0), 0u);
    EXPECT_EQ(gf32::mul(0, a), 0u);
  }
}

TEST(Gf32, FieldAxioms) {
  std::mt19937_64 rng(2);
  for (int i = 0; i < 2000; ++i) {
    const auto a = static_cast<uint32_t>(rng()), b = static_cast<uint32_t>(rng()),
               c = static_cast<uint32_t>(rng());
    EXPECT_EQ(gf32::mul(a, b), gf32::mul(b, a));
    EXPECT_EQ(gf32::mul(gf32::mul(a, b), c), gf32::mul(a, gf32::mul(b, c)));
    EXPECT_EQ(gf32::mul(a, b ^ c), gf32::mul(a, b) ^ gf32::mul(a, c));
  }
}

TEST(Gf32, MatchesBitwiseReference) {
  std::mt19937_64 rng(3);
  std::vector<std::pair<uint32_t, uint32_t>> cases = {
      {0xffffffff, 0xffffffff}, {0x80000000, 0x80000000}, {0x80000000, 2}, {0xffffffff, 1}};
  for (int i = 0; i < 5000; ++i)
    cases.emplace_back(static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()));
  for (auto [a, b] : cases) {
    EXPECT_EQ(detail::clmul_portable(a, b), ref_clmul(a, b)) << a << " " << b;
    EXPECT_EQ(detail::mul_portable(a, b), ref_mul(a, b)) << a << " " << b;
    EXPECT_EQ(gf32::mul(a, b), ref_mul(a, b)) << a << " " << b;
  }
  // reduce() on the largest products and on a lone x^63.
  EXPECT_EQ(detail::reduce(uint64_t{1} << 63), ref_mod(uint64_t{1} << 63, kModulus));
  EXPECT_EQ(detail::reduce(~uint64_t{0}), ref_mod(~uint64_t{0}, kModulus));
}

TEST(Gf32, PortableEqualsPclmul) {
  if (!detail::have_clmul()) GTEST_SKIP() << "no PCLMULQDQ on this CPU";
  EXPECT_EQ(detail::best_mul_impl(), detail::MulImpl::kClmul);
  std::mt19937_64 rng(4);
  for (int i = 0; i < 20000; ++i) {
    const auto a = static_cast<uint32_t>(rng()), b = static_cast<uint32_t>(rng());
    ASSERT_EQ(detail::mul_with(detail::MulImpl::kClmul, a, b),
              detail::mul_with(detail::MulImpl::kPortable, a, b));
  }
  for (size_t c : {1, 3, 4, 7, 64}) {
    std::vector<uint32_t> p(c), q(c);
    for (int i = 0; i < 50; ++i) {
      const uint32_t x = nonzero(rng);
      detail::add_odd_powers(detail::MulImpl::kPortable, p, x);
      detail::add_odd_powers(detail::MulImpl::kClmul, q, x);
    }
    EXPECT_EQ(p, q);
  }
}

TEST(Gf32, SqrIsMulSelf) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 5000; ++i) {
    const auto a = static_cast<uint32_t>(rng());
    EXPECT_EQ(gf32::sqr(a), gf32::mul(a, a));
    EXPECT_EQ(gf32::sqr(a), ref_mul(a, a));
  }
}

TEST(Gf32, InverseTimesSelfIsOne) {
  std::mt19937_64 rng(6);
  EXPECT_EQ(gf32::inv(0), 0u);
  EXPECT_EQ(gf32::inv(1), 1u);
  for (uint32_t a : {2u, 0x80000000u, 0xffffffffu})
    EXPECT_EQ(gf32::mul(gf32::inv(a), a), 1u);
  for (int i = 0; i < 2000; ++i) {
    const uint32_t a = nonzero(rng);
    EXPECT_EQ(gf32::mul(gf32::inv(a), a), 1u) << a;
  }
}

TEST(Gf32, ModulusIsIrreducible) {
  // Rabin's test for degree 32 = 2^5 (2 its only prime factor): p is irreducible iff
  // x^(2^32) == x mod p and gcd(x^(2^16) - x, p) == 1. Computed with the bitwise reference.
  uint32_t x_pow = 2;  // x
  for (int i = 0; i < 16; ++i)
    x_pow = ref_mul(x_pow, x_pow);
  EXPECT_EQ(ref_gcd(kModulus, x_pow ^ 2u), 1u);  // gcd(x^(2^16) + x, p)
  for (int i = 16; i < 32; ++i)
    x_pow = ref_mul(x_pow, x_pow);
  EXPECT_EQ(x_pow, 2u);  // x^(2^32) == x
  // The test can fail: x^32 + x^8 + 1 (a trinomial of degree divisible by 8) is reducible.
  const uint64_t reducible = (uint64_t{1} << 32) | 0x101;
  uint64_t y = 2;
  for (int i = 0; i < 16; ++i)
    y = ref_mod(ref_clmul(static_cast<uint32_t>(y), static_cast<uint32_t>(y)), reducible);
  uint64_t z = y;
  for (int i = 16; i < 32; ++i)
    z = ref_mod(ref_clmul(static_cast<uint32_t>(z), static_cast<uint32_t>(z)), reducible);
  EXPECT_TRUE(z != 2 || ref_gcd(reducible, y ^ 2) != 1);
}

TEST(Sketch, SyndromesAreOddPowerSums) {
  std::mt19937_64 rng(7);
  for (size_t c : {1, 2, 3, 4, 5, 7, 8, 9, 33}) {
    std::vector<uint32_t> elements;
    for (int i = 0; i < 5; ++i)
      elements.push_back(nonzero(rng));
    const Sketch s = sketch_of(c, elements);
    for (size_t i = 0; i < c; ++i) {
      uint32_t sum = 0;
      for (uint32_t e : elements)
        sum ^= ref_pow(e, 2 * i + 1);
      EXPECT_EQ(s.syndromes()[i], sum) << "c=" << c << " i=" << i;
    }
    std::vector<uint32_t> portable(c);
    for (uint32_t e : elements)
      detail::add_odd_powers(detail::MulImpl::kPortable, portable, e);
    EXPECT_TRUE(std::equal(portable.begin(), portable.end(), s.syndromes().begin()));
  }
}

TEST(Sketch, AddTwiceCancelsAndZeroIsIgnored) {
  Sketch s(16);
  EXPECT_TRUE(s.empty());
  s.add(0);
  EXPECT_TRUE(s.empty());
  s.add(12345);
  EXPECT_FALSE(s.empty());
  Sketch one = s;
  s.add(999);
  s.add(999);
  EXPECT_EQ(s, one);
  s.add(12345);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.decode(), std::vector<uint32_t>{});
}

TEST(Sketch, CapacityOutOfRangeOrMismatchThrows) {
  EXPECT_THROW(Sketch(0), std::invalid_argument);
  EXPECT_THROW(Sketch(Sketch::kMaxCapacity + 1), std::invalid_argument);
  EXPECT_EQ(Sketch(Sketch::kMaxCapacity).capacity(), Sketch::kMaxCapacity);
  Sketch a(8);
  EXPECT_THROW(a.merge(Sketch(9)), std::invalid_argument);
  EXPECT_NO_THROW(a.merge(Sketch(8)));
}

TEST(Sketch, DecodesTheSymmetricDifferenceUpToCapacity) {
  std::mt19937_64 rng(8);
  for (size_t c : {1, 2, 8, 16, 64, 256}) {
    std::set<size_t> diffs = {0, 1, c / 2, c - 1, c};
    for (int i = 0; i < 3; ++i)
      diffs.insert(rng() % (c + 1));
    for (size_t d : diffs) {
      auto [merged, expected] = reconcile(rng, c, 500, d);
      EXPECT_EQ(merged.decode(), expected) << "c=" << c << " d=" << d;
    }
  }
}

TEST(Sketch, DecodesAFullSketchOfMaxCapacity) {
  std::mt19937_64 rng(9);
  std::set<uint32_t> used;
  std::vector<uint32_t> set = fresh_values(rng, Sketch::kMaxCapacity, used);
  const Sketch s = sketch_of(Sketch::kMaxCapacity, set);
  std::sort(set.begin(), set.end());
  EXPECT_EQ(s.decode(), set);
}

TEST(Sketch, DecodesStructuredSets) {
  // Elements close together (a subspace-like set) and the extremes of the field.
  for (size_t c : {4, 32}) {
    std::vector<uint32_t> set;
    for (uint32_t v = 1; v <= c; ++v)
      set.push_back(v);
    EXPECT_EQ(sketch_of(c, set).decode(), set);
    std::vector<uint32_t> high = {1, 2, 0x80000000u, 0xffffffffu};
    EXPECT_EQ(sketch_of(c, high).decode(), high);
  }
}

TEST(Sketch, OverCapacityNeverReturnsAWrongSet) {
  // Past capacity the merged sketch is, in effect, random. It is the sketch of some set of at
  // most c elements with probability about 1/c! (always at c = 1), and decode may then return
  // that set; it must never return anything else. From c = 8 on that chance is negligible
  // and decode must fail.
  std::mt19937_64 rng(10);
  for (size_t c : {1, 2, 8, 16, 64, 256}) {
    const int trials = c <= 16 ? 40 : (c == 64 ? 8 : 2);
    size_t decoded = 0, total = 0;
    for (size_t d : {c + 1, c + 5, 2 * c, 3 * c}) {
      for (int t = 0; t < trials; ++t) {
        auto [merged, truth] = reconcile(rng, c, 100, d);
        const auto got = merged.decode();
        ++total;
        if (got) ++decoded;
        expect_preimage_or_nullopt(merged, got);
        EXPECT_NE(got, truth);
        if (c >= 8) {
          EXPECT_EQ(got, std::nullopt) << "c=" << c << " d=" << d;
        }
      }
    }
    if (c == 1) {  // any nonzero s_1 is the sketch of {s_1}
      EXPECT_EQ(decoded, total);
    }
    if (c == 2) {  // about half of all sketches
      EXPECT_GT(decoded, total / 4);
      EXPECT_LT(decoded, 3 * total / 4);
    }
  }
}

TEST(Sketch, SerializeParseRoundTrip) {
  std::mt19937_64 rng(11);
  for (size_t c : {size_t{1}, size_t{5}, size_t{64}, Sketch::kMaxCapacity}) {
    Sketch s(c);
    for (int i = 0; i < 10; ++i)
      s.add(nonzero(rng));
    const std::vector<uint8_t> bytes = s.serialize();
    ASSERT_EQ(bytes.size(), 4 * c);
    EXPECT_EQ(s.serialized_size(), 4 * c);
    EXPECT_EQ(Sketch::parse(bytes), s);
    EXPECT_EQ(Sketch::parse(bytes)->serialize(), bytes);
  }
  // Little-endian s_1 first: the sketch of {x} (= 2) at capacity 2 is s_1 = x, s_3 = x^3.
  const std::vector<uint8_t> expected = {2, 0, 0, 0, 8, 0, 0, 0};
  EXPECT_EQ(sketch_of(2, {2}).serialize(), expected);
}

TEST(Sketch, ParseRejectsBadLengths) {
  const std::vector<uint8_t> big(4 * Sketch::kMaxCapacity + 4, 1);
  for (size_t n : {size_t{0}, size_t{1}, size_t{3}, size_t{5}, size_t{4095}, big.size()})
    EXPECT_EQ(Sketch::parse(std::span(big.data(), n)), std::nullopt) << n;
  EXPECT_TRUE(Sketch::parse(std::span(big.data(), 4)));
  EXPECT_TRUE(Sketch::parse(std::span(big.data(), 4 * Sketch::kMaxCapacity)));
}

TEST(Sketch, RandomBytesDecodeToNulloptOrAnExactPreimage) {
  std::mt19937_64 rng(12);
  size_t decoded = 0;
  for (int t = 0; t < 300; ++t) {
    const size_t c = t < 250 ? 1 + rng() % 12 : 1 + rng() % 128;
    std::vector<uint8_t> bytes(4 * c);
    for (uint8_t& b : bytes)
      b = static_cast<uint8_t>(rng());
    if (t % 10 == 0) std::fill(bytes.begin() + 4, bytes.end(), 0);  // sparse syndromes
    const std::optional<Sketch> s = Sketch::parse(bytes);
    ASSERT_TRUE(s);
    const auto got = s->decode();
    if (got) ++decoded;
    expect_preimage_or_nullopt(*s, got);
  }
  EXPECT_GT(decoded, 0u);  // the small capacities do hit real preimages
}

TEST(Sketch, DecodeIsDeterministic) {
  std::mt19937_64 rng(13);
  auto [merged, expected] = reconcile(rng, 64, 50, 60);
  EXPECT_EQ(merged.decode(), expected);
  EXPECT_EQ(merged.decode(), merged.decode());
}

}  // namespace
}  // namespace hearsay::p2p
