// Fuzz target: PhiAccrualDetector against a naive model.
//
// The model keeps every recorded interval in a list and recomputes the window (the last
// kPhiWindow of them), its mean (never below min_mean) and phi by brute force from the rules of
// p2p/phi_accrual.h: the first heartbeat seeds one interval of min_mean; a heartbeat at or
// before the last arrival teaches nothing; an interval over max_interval is not recorded; phi
// is 0 before the first heartbeat and at or before the last arrival, else
// silence / mean × log10(e). At every step mean(), samples(), last_arrival() and phi() (at
// the current time and a little later) equal the model's, phi never decreases with silence,
// phi reaches p after silence_for(p, mean()) (to rounding), and sanity_check() holds.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "p2p/phi_accrual.h"

using namespace hearsay;

namespace {

constexpr size_t kMaxSteps = 1000;

struct Model {
  Duration min_mean;
  Duration max_interval;
  std::vector<int64_t> intervals;
  bool started = false;
  Time last{};

  void heartbeat(Time now) {
    if (!started) {
      started = true;
      last = now;
      intervals.push_back(min_mean.count());
      return;
    }
    if (now <= last) return;
    const Duration interval = now - last;
    last = now;
    if (interval <= max_interval) intervals.push_back(interval.count());
  }
  size_t samples() const { return std::min(intervals.size(), kPhiWindow); }
  Duration mean() const {
    if (intervals.empty()) return min_mean;
    int64_t sum = 0;
    for (size_t i = intervals.size() - samples(); i < intervals.size(); ++i)
      sum += intervals[i];
    return std::max(Duration(sum / static_cast<int64_t>(samples())), min_mean);
  }
  double phi(Time now) const {
    if (!started || now <= last) return 0.0;
    return kPhiFactor * static_cast<double>((now - last).count()) /
           static_cast<double>(mean().count());
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hearsay::fuzz::FuzzInput in(data, size);
  // Durations up to ~65 s for the mean floor and ~18 hours for the longest interval (0
  // included: then only the seed interval is ever recorded).
  const Duration min_mean = std::chrono::milliseconds(in.u16());
  const Duration max_interval = std::chrono::seconds(in.u16());
  PhiAccrualDetector det(min_mean, max_interval);
  Model model{std::max(min_mean, Duration(1)), max_interval, {}, false, {}};
  Time now = std::chrono::hours(24);

  for (size_t step = 0; step < kMaxSteps && !in.empty(); ++step) {
    const uint8_t op = in.byte();
    switch (op % 5) {
      case 0:  // a short step: up to ~65 ms
        now += Duration(in.u16());
        break;
      case 1:  // a long step: up to ~18 hours
        now += std::chrono::seconds(in.u16());
        break;
      case 2:  // the clock goes back a little
        now -= Duration(in.u16());
        break;
      case 3:
      case 4:
        det.heartbeat(now);
        model.heartbeat(now);
        break;
    }
    FUZZ_ASSERT(det.started() == model.started);
    FUZZ_ASSERT(det.last_arrival() == model.last);
    FUZZ_ASSERT(det.samples() == model.samples());
    FUZZ_ASSERT(det.mean() == model.mean());
    FUZZ_ASSERT(det.mean() >= model.min_mean);
    const Duration later = std::chrono::milliseconds(in.u16());
    const double phi_now = det.phi(now);
    const double phi_later = det.phi(now + later);
    FUZZ_ASSERT(phi_now == model.phi(now));
    FUZZ_ASSERT(phi_later == model.phi(now + later));
    FUZZ_ASSERT(phi_now >= 0.0 && phi_later >= phi_now);
    if (det.started()) {
      // silence_for(p) is where phi reaches p (up to the rounding to whole microseconds).
      const double p = 1.0 + in.byte() % 16;
      const Duration s = PhiAccrualDetector::silence_for(p, det.mean());
      const double reached = det.phi(det.last_arrival() + s + Duration(1));
      FUZZ_ASSERT(reached >= p * (1 - 1e-9));
      FUZZ_ASSERT(det.phi(det.last_arrival() + s) <= p * (1 + 1e-9));
    }
    det.sanity_check();
  }
  return 0;
}
