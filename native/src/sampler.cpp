#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "error.h"

namespace rwkvx {

Sampler::Sampler(const rwkvx_sampler_params& p, int n_vocab) : p_(p), n_vocab_(n_vocab), rng_(p.seed) {
  if (!(p.top_p > 0.f && p.top_p <= 1.f)) fail(RWKVX_ERR_INVALID_ARGUMENT, "top_p must be in (0, 1], got %g", p.top_p);
  if (p.min_p < 0.f || p.min_p >= 1.f) fail(RWKVX_ERR_INVALID_ARGUMENT, "min_p must be in [0, 1), got %g", p.min_p);
  if (p.top_k < 0) fail(RWKVX_ERR_INVALID_ARGUMENT, "top_k must be >= 0");
  if (!(p.repetition_penalty > 0.f)) fail(RWKVX_ERR_INVALID_ARGUMENT, "repetition_penalty must be > 0");
  if (p.penalty_last_n < 0) fail(RWKVX_ERR_INVALID_ARGUMENT, "penalty_last_n must be >= 0");
}

void Sampler::accept(int32_t token) {
  if (p_.penalty_last_n == 0) return;
  recent_.push_back(token);
  while (static_cast<int>(recent_.size()) > p_.penalty_last_n) recent_.pop_front();
}

int32_t Sampler::sample(const float* logits) {
  work_.assign(logits, logits + n_vocab_);
  if (!recent_.empty()) {
    std::unordered_map<int32_t, int> count;
    for (int32_t t : recent_) ++count[t];
    for (const auto& [tok, n] : count) {
      if (tok < 0 || tok >= n_vocab_) continue;
      float& l = work_[static_cast<size_t>(tok)];
      if (p_.repetition_penalty != 1.f) l = l > 0 ? l / p_.repetition_penalty : l * p_.repetition_penalty;
      l -= p_.presence_penalty + p_.frequency_penalty * static_cast<float>(n);
    }
  }
  if (p_.temperature <= 0.f) {
    return static_cast<int32_t>(std::max_element(work_.begin(), work_.end()) - work_.begin());
  }
  cand_.resize(static_cast<size_t>(n_vocab_));
  for (int i = 0; i < n_vocab_; ++i) cand_[static_cast<size_t>(i)] = {work_[static_cast<size_t>(i)] / p_.temperature, i};
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  size_t n = cand_.size();
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < n) {
    std::nth_element(cand_.begin(), cand_.begin() + p_.top_k, cand_.end(), by_logit);
    n = static_cast<size_t>(p_.top_k);
  }
  std::sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(n), by_logit);
  // softmax over the kept candidates
  const float mx = cand_[0].first;
  double total = 0;
  std::vector<double> prob(n);
  for (size_t i = 0; i < n; ++i) total += prob[i] = std::exp(static_cast<double>(cand_[i].first - mx));
  for (auto& q : prob) q /= total;
  if (p_.min_p > 0.f) {
    const double floor = p_.min_p * prob[0];
    size_t keep = 1;
    while (keep < n && prob[keep] >= floor) ++keep;
    n = keep;
  }
  if (p_.top_p < 1.f) {
    double cum = 0;
    size_t keep = 0;
    while (keep < n) {
      cum += prob[keep++];
      if (cum >= p_.top_p) break;
    }
    n = keep;
  }
  double kept = 0;
  for (size_t i = 0; i < n; ++i) kept += prob[i];
  const double u = std::uniform_real_distribution<double>(0.0, kept)(rng_);
  double acc = 0;
  for (size_t i = 0; i < n; ++i) {
    acc += prob[i];
    if (u < acc) return cand_[i].second;
  }
  return cand_[n - 1].second;
}

}  // namespace rwkvx
