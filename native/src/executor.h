// The backend boundary of a session: where the recurrent state and the KV
// caches live and how a chunk of tokens runs through the model. The CPU
// executor (executor_cpu.cpp) is the reference; a GPU executor keeps the same
// contract with its state in device memory. Token bookkeeping, prefix hashes,
// logits and blobs stay in Session, common to all backends.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "model.h"
#include "ops.h"
#include "rwkvx.h"

namespace rwkvx {

class Executor;
struct Runtime;

// A non-CPU backend (the CUDA one): holds the model's device weights and makes
// executors for sessions. A Runtime without one makes CPU executors.
class ExecutorFactory {
 public:
  virtual ~ExecutorFactory() = default;
  virtual std::unique_ptr<Executor> make(const Model& model, Runtime& rt, rwkvx_kv_type kv_type) = 0;
};

// Per-model run-time resources shared by its sessions.
struct Runtime {
  explicit Runtime(int n_threads) : pool(n_threads) {}
  ThreadPool pool;
  const KernelSet* kernels = nullptr;
  std::unique_ptr<ExecutorFactory> backend;  // null: CPU
  OpContext ctx() { return OpContext{kernels, &pool}; }
};

// Recurrent state layout (one fp32 vector): per RWKV block
// [att_x C][ffn_x C][wkv H*N*N], then per attention block [ffn_x C].
struct StateLayout {
  int64_t C, H, N, n_layer, n_attn;
  int64_t layer_size() const { return 2 * C + H * N * N; }
  int64_t size() const { return n_layer * layer_size() + n_attn * C; }
  int64_t att_x(int64_t l) const { return l * layer_size(); }
  int64_t ffn_x(int64_t l) const { return l * layer_size() + C; }
  int64_t wkv(int64_t l) const { return l * layer_size() + 2 * C; }
  int64_t attn_ffn_x(int64_t j) const { return n_layer * layer_size() + j * C; }
};

StateLayout state_layout(const HParams& hp);

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs tokens at positions pos0.. through the model. Writes host logits for
  // the last token (rows = 1) or for every token (all_logits, rows = T).
  virtual void forward(const int32_t* tokens, int64_t T, int64_t pos0, float* logits, bool all_logits) = 0;
  virtual void reset() = 0;                     // zero state, empty KV
  virtual void truncate_kv(int64_t n) = 0;      // drop KV rows from n on
  virtual std::unique_ptr<Executor> fork() const = 0;  // same state, KV shared copy-on-write
  // The recurrent state in the portable layout of state_layout() (fp32).
  virtual std::vector<float> read_state() const = 0;
  virtual void write_state(const std::vector<float>& s) = 0;
  // KV rows [0, n) of every attention block: per block, per row, key then value
  // in the session's KV type.
  virtual std::vector<uint8_t> read_kv() const = 0;
  virtual void write_kv(const uint8_t* data, size_t size, int64_t n) = 0;
  virtual size_t kv_bytes_per_token() const = 0;  // over all attention blocks
  // Tokens per forward call the backend runs best with (0: the session's default).
  virtual int preferred_chunk() const { return 0; }
};

// Executors start empty: zero state, no KV rows.
std::unique_ptr<Executor> make_cpu_executor(const Model& model, Runtime& rt, rwkvx_kv_type kv_type);

// The runtime's backend when it has one, else the CPU.
inline std::unique_ptr<Executor> make_executor(const Model& model, Runtime& rt, rwkvx_kv_type kv_type) {
  return rt.backend ? rt.backend->make(model, rt, kv_type) : make_cpu_executor(model, rt, kv_type);
}

}  // namespace rwkvx
