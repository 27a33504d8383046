#include "tests/sim/sim_network.h"

namespace strand::raft::sim {

std::vector<int64_t> SimNetwork::DeliveryDelays(Random& random) const {
  std::vector<int64_t> delays;
  if (random.Chance(faults_.drop)) return delays;
  const int copies = random.Chance(faults_.duplicate) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    if (random.Chance(faults_.long_delay)) {
      delays.push_back(random.Range(faults_.delay_min_us, faults_.long_delay_max_us));
    } else {
      delays.push_back(random.Range(faults_.delay_min_us, faults_.delay_max_us));
    }
  }
  return delays;
}

}  // namespace strand::raft::sim
