// The op boundary of the CPU backend: each op is one unit with a plain
// definition, used by the forward pass and tested on its own (every SIMD level
// against the scalar kernels; the CUDA backend mirrors these ops). All
// activations are fp32; token-major layout [T][C].
#pragma once
#include <cstdint>
#include <vector>

#include "kernels.h"
#include "tensor.h"
#include "threadpool.h"

namespace rwkvx {

struct OpContext {
  const KernelSet* k;
  ThreadPool* pool;
};

// y = LayerNorm(x) * w + b over each row of C (T rows). y may alias x.
void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t T, int64_t C, float eps);
// GroupNorm with groups of `group` channels per row, then affine. y may alias x.
void group_norm(const float* x, const float* w, const float* b, float* y, int64_t T, int64_t C, int64_t group, float eps);

// Y[T][out] = X[T][in] · Wᵀ for a matrix in GGUF orientation (ne = [in, out]).
// `accumulate`: Y += instead of Y =.
void linear(const OpContext& ctx, const TensorView& W, const float* X, int64_t T, float* Y, bool accumulate = false);

// One RWKV-7 time step per token for all heads, sequential in time (the exact
// recurrence). Per token t and head h (N = head size), state S[h] is N×N
// [value][key]:
//   sa = S·a;  S = S·diag(w) + sa ⊗ b + v ⊗ k;  y = S·r
// with a = -kk and b = kk * a_gate passed in. r, w, k, v, a, b, y: [T][H*N].
void wkv7_seq(const OpContext& ctx, int64_t T, int64_t H, int64_t N, const float* r, const float* w,
              const float* k, const float* v, const float* a, const float* b, float* S, float* y);

// Row-wise helpers used between the ops above.
void tanh_inplace(float* x, int64_t n);
void sigmoid_inplace(float* x, int64_t n);

// Key/value store of one attention block, in pages of `chunk` tokens (the
// RWKV-X chunk size), each keeping the sum of its keys so the per-head chunk
// mean is available without re-reading the page. Pages are shared between
// forked sessions and copied on first write (copy-on-write).
class KvStore;

struct MobaParams {
  int64_t n_head, head_size, chunk, top_k;
  float scale;
};

// Sparse attention as trained (MoBA): query at position p = pos0 + t attends
// causally within its chunk plus the top-(top_k-1) strictly earlier chunks,
// chosen per head by q · mean(keys of the chunk). The keys and values of all
// queried positions must already be in `kv`. q, out: [T][H*N].
void moba_attention(const OpContext& ctx, const MobaParams& p, const KvStore& kv, const float* q, int64_t T,
                    int64_t pos0, float* out);

}  // namespace rwkvx
