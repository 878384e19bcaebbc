// Sketch: a set-reconciliation sketch (PinSketch over GF(2^32), the construction of BIP330's
// minisketch). Two peers that each hold a set of 32-bit short ids exchange sketches of
// capacity c; the merge (XOR) of the two is the sketch of the symmetric difference, and decode()
// recovers that difference whenever it has at most c elements.
//
// Construction. Elements are nonzero elements of GF(2^32) = GF(2)[x] / (x^32 + x^7 + x^3 + x^2
// + 1) (irreducible: a test proves it with Rabin's test). A sketch of capacity c holds the odd
// power sums s_1, s_3, ..., s_{2c-1} of its elements (s_k = sum of e^k). In characteristic 2 the
// even sums follow (s_2i = s_i^2), so c words carry 2c syndromes, which determine any set of
// at most c elements (a BCH code of designed distance 2c+1). Adding is XOR, so adding an element
// twice cancels it and merge() is XOR of the syndromes. 0 has all powers 0: add(0) does nothing
// (callers map ids to nonzero values).
//
// Decoding (decode()):
//  1. even syndromes from the odd ones; Berlekamp–Massey gives the shortest LFSR of the 2c
//     syndromes, Λ(z) = Π (1 + e·z) of degree L. L > c: more than c elements, fail.
//  2. f(z) = z^L Λ(1/z) = Π (z + e), monic, has the elements themselves as roots (no
//     inversions). f(0) = 0 (a zero root, or deg Λ < L): fail.
//  3. f must split into distinct linear factors: x^(2^32) == x mod f, by 32 squarings mod f,
//     which also leave x^(2^k) mod f for k < 32. Random over-capacity sketches almost always
//     stop here (a random degree-c polynomial splits with probability about 1/c!).
//  4. Berlekamp's trace algorithm: for β in GF(2^32), Tr(β·x) mod f = Σ β^(2^k)·x^(2^k) mod f
//     takes the value 0 or 1 at each root, so gcd(f, Tr(β·x)) splits f between the roots of
//     trace 0 and those of trace 1. β runs over r·x^k for k = 0..31 with a fresh pseudo-random
//     r per split (seeded from the sketch, so decode is deterministic): each β is uniform, and
//     since these 32 values are a basis of GF(2^32) over GF(2) some β separates any two
//     distinct roots, so every split ends within 32 tries.
//  5. The roots must be L distinct nonzero values, and the sketch of the decoded set must equal
//     this sketch; a set is returned only then. (With a minimal LFSR and distinct roots the
//     second holds by construction — the sequence is Σ a_e·e^k, and s_2k = s_k^2 forces every
//     a_e to 1 — so the check guards the implementation, not the mathematics.)
//  Past capacity the merged sketch is, in effect, random, and it is the sketch of some other set
//  of at most c elements with probability about 1/c! (there are about 2^32c / c! such sets):
//  always at c = 1, half the time at c = 2, 2.5e-5 at c = 8, 5e-14 at c = 16. decode() then
//  returns that set, which reproduces the sketch but is not the difference. Below c = 8 a
//  caller needs another check of the result (say, against the ids it announced).
//
// Cost (n the number of elements, c the capacity, counted in field multiplications):
//  - add: c. Build from n elements: n·c (four interleaved power chains; PCLMULQDQ when the CPU
//    has it, chosen at run time, else a portable carry-less multiply).
//  - decode, for any input that parses (a peer's bytes included): Berlekamp–Massey at most
//    6c^2 (2c steps, each a dot product of L <= c terms and an update of at most 2c); the
//    split check 32·L^2; the splits 32·m^2 per factor of degree m plus m^2 per gcd try
//    (expected total about 32·L^2 more, as a random β halves f on average). The splitting
//    phase has a hard budget (kSplitWorkFactor·32·L^2 + 4096·L multiplications, an
//    inversion counted as 39; measured, honest decodes use on average 0.9–1.1·32·L^2 at L >=
//    64, 2.2 at L = 2): a decode that would exceed it fails instead, so every decode is O(32·c^2)
//    field operations with no unbounded loop; the final re-sketch adds L·c. Memory O(c): the
//    syndromes, the polynomials (2c+1 words each) and the 32 powers x^(2^k) mod f (32·L words, 128
//    KiB at c = 1024).
//
// Why PinSketch rather than an IBLT (an invertible Bloom lookup table):
//  - Size. A PinSketch of capacity c is 4·c bytes and decodes every difference of up to c
//    elements, exactly. An IBLT needs cells of a count, a key sum and a hash sum (at least 12
//    bytes with 32-bit ids) and more cells than differences. Measured (a peeling simulation
//    with 32-bit ids, 100 differences, 20,000 trials per size): with 3 hashes, 150 cells
//    (1.5x) fail 5.6% of the time and 198 cells (2x) still 1.9%; with 4 hashes 148 cells fail
//    2.4%, 168 cells 0.16% and 200 cells 0.07%. One failure in 1,000 thus takes about 2 cells
//    per difference, 2,400 bytes, where PinSketch needs 400: 6x more.
//  - Failure. An IBLT's decode fails at random below its nominal capacity; PinSketch's never
//    does, so a reconciliation can size the sketch to the expected difference and know when
//    it must ask for more. The price is CPU: decode is quadratic in c (measured with
//    tests/bench/sketch_bench.cpp on an AMD EPYC with PCLMULQDQ: 0.08 ms at c = 16, 0.7 ms at
//    64, 8 ms at 256, 110 ms at 1024), which is why kMaxCapacity is 1024.
//
// Errors: a peer's bytes reach only parse() and decode(), which return nullopt on bad input and
// never throw or assert. Constructing a sketch of a bad capacity or merging sketches of
// different capacities is a programming error and throws std::invalid_argument.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace hearsay::p2p {

// GF(2^32) modulo x^32 + x^7 + x^3 + x^2 + 1.
namespace gf32 {
// The modulus without its x^32 term: x^7 + x^3 + x^2 + 1.
inline constexpr uint32_t kModulusLow = 0x8d;
uint32_t mul(uint32_t a, uint32_t b);
uint32_t sqr(uint32_t a);
// The multiplicative inverse; inv(0) == 0.
uint32_t inv(uint32_t a);
}  // namespace gf32

namespace detail {
// The carry-less product of two 32-bit polynomials (63 bits), without CPU extensions.
uint64_t clmul_portable(uint32_t a, uint32_t b);
// Reduces a 64-bit polynomial modulo the field's modulus.
uint32_t reduce(uint64_t z);
uint32_t mul_portable(uint32_t a, uint32_t b);

// Which multiplier runs. kClmul (PCLMULQDQ) falls back to kPortable where the CPU lacks it.
enum class MulImpl { kPortable, kClmul };
bool have_clmul();
MulImpl best_mul_impl();
// gf32::mul through a chosen implementation.
uint32_t mul_with(MulImpl impl, uint32_t a, uint32_t b);
// syndromes[i] ^= x^(2i+1) for i < syndromes.size(): Sketch::add's work, with a chosen
// implementation (the benchmark compares them).
void add_odd_powers(MulImpl impl, std::span<uint32_t> syndromes, uint32_t x);
}  // namespace detail

class Sketch {
 public:
  // Largest capacity: 4 KiB on the wire, decode about 32·2^20 multiplications.
  static constexpr size_t kMaxCapacity = 1024;
  // The splitting phase's work budget, in units of 32·L^2 multiplications (see Cost above; an
  // honest decode uses 1 to 2 of them on average).
  static constexpr size_t kSplitWorkFactor = 8;

  // capacity in [1, kMaxCapacity], else std::invalid_argument.
  explicit Sketch(size_t capacity);

  size_t capacity() const { return m_syndromes.size(); }
  // Adds (or, added again, removes) `element`; 0 has no effect (see above).
  void add(uint32_t element);
  // This sketch becomes the sketch of the symmetric difference. Capacities must be equal, else
  // std::invalid_argument.
  void merge(const Sketch& other);
  // True if every syndrome is zero (the sketch of the empty set, for any set of at most c).
  bool empty() const;

  // 4 · capacity.
  size_t serialized_size() const { return 4 * m_syndromes.size(); }
  // s_1, s_3, ..., s_{2c-1}, each a little-endian u32.
  std::vector<uint8_t> serialize() const;
  // The inverse of serialize(): 4·c bytes for 1 <= c <= kMaxCapacity, else nullopt.
  static std::optional<Sketch> parse(std::span<const uint8_t> bytes);

  // The set this sketch holds (after merge: the symmetric difference), sorted ascending; nullopt
  // if it holds more than capacity() elements or is not the sketch of any set (see above).
  std::optional<std::vector<uint32_t>> decode() const;

  // The odd syndromes s_1, s_3, ... (tests, the fuzz oracle).
  std::span<const uint32_t> syndromes() const { return m_syndromes; }

  bool operator==(const Sketch&) const = default;

 private:
  std::vector<uint32_t> m_syndromes;
};

}  // namespace hearsay::p2p
