// A session: one model's recurrent state, its attention KV caches, the token
// prefix hashes (so snapshots can tell whether they still apply) and the
// logits after the last token.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "executor.h"
#include "kv_store.h"
#include "model.h"
#include "ops.h"
#include "rwkvx.h"

namespace rwkvx {

class Session {
 public:
  Session(const Model& model, Runtime& rt, const rwkvx_session_params& params);

  const Model& model() const { return model_; }
  int64_t n_past() const { return static_cast<int64_t>(tokens_.size()); }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  uint64_t prefix_hash(int64_t n) const { return prefix_hash_[static_cast<size_t>(n)]; }
  int64_t n_ctx() const { return n_ctx_; }

  // Feeds tokens in chunks; writes logits of the last token (logits != null)
  // or after every token (all_logits, out [n][V]). Checks abort between chunks.
  void feed(const int32_t* tokens, int64_t n, float* logits, bool all_logits, rwkvx_progress_fn progress,
            void* progress_user_data);
  bool has_logits() const { return has_logits_; }
  const std::vector<float>& last_logits() const { return last_logits_; }

  void reset();
  void truncate(int64_t n);  // KV + bookkeeping; state must be restored by the caller
  std::unique_ptr<Session> fork() const;

  std::vector<float> state() const { return exec_->read_state(); }
  // Restores state to a point n with the given prefix hash; fails if the KV
  // prefix no longer matches.
  void restore(const std::vector<float>& state, int64_t n, uint64_t hash);

  std::vector<uint8_t> save() const;
  void load(const uint8_t* data, size_t size);

  void request_abort() { abort_flag_.store(true); }
  // Clears a pending abort when a call ends (see rwkvx_session_abort).
  void end_call() { abort_flag_.store(false); }
  bool should_abort() const;

  Executor& executor() { return *exec_; }

 private:
  Session(const Model& model, Runtime& rt, const rwkvx_session_params& params, std::unique_ptr<Executor> exec);
  void push_tokens(const int32_t* tokens, int64_t T);

  const Model& model_;
  Runtime& rt_;
  rwkvx_session_params params_;
  StateLayout layout_;
  int64_t n_ctx_;
  int prefill_chunk_;
  std::unique_ptr<Executor> exec_;
  std::vector<int32_t> tokens_;
  std::vector<uint64_t> prefix_hash_;  // size n_past + 1
  std::vector<float> last_logits_;
  bool has_logits_ = false;
  std::atomic<bool> abort_flag_{false};
};

uint64_t hash_step(uint64_t h, int32_t token);

}  // namespace rwkvx
