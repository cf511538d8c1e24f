// Token sampling: penalties over a window of recent tokens, then greedy or
// temperature with top-k / top-p / min-p filtering, from a seeded generator.
#pragma once
#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include "rwkvx.h"

namespace rwkvx {

class Sampler {
 public:
  Sampler(const rwkvx_sampler_params& p, int n_vocab);
  void accept(int32_t token);
  int32_t sample(const float* logits);

 private:
  rwkvx_sampler_params p_;
  int n_vocab_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;
  std::vector<float> work_;
  std::vector<std::pair<float, int32_t>> cand_;
};

}  // namespace rwkvx
