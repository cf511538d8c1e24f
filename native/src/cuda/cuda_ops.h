// The CUDA ops, callable from plain C++ (tests, the executor): each mirrors a
// CPU op of ops.h / executor_cpu.cpp and is tested against it. Pointers are
// device pointers unless named h_*; activations are fp32, token-major [T][C].
// Every launcher checks the launch and throws rwkvx::Error(RWKVX_ERR_DEVICE).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor.h"

struct CUstream_st;

namespace rwkvx {
namespace cuda {

using Stream = CUstream_st*;

// ------------------------------------------------------------ device memory
// cudaMalloc; on failure throws RWKVX_ERR_OUT_OF_MEMORY naming `what`, the size
// and the free/total device memory. Never managed memory.
void* dev_alloc(size_t bytes, const char* what);
void dev_free(void* p);
void to_device(void* dst, const void* h_src, size_t bytes, Stream s = nullptr);  // waits for the copy
void to_host(void* h_dst, const void* src, size_t bytes, Stream s = nullptr);    // waits for the copy
void dev_copy(void* dst, const void* src, size_t bytes, Stream s);                // async, device to device
void dev_fill(void* p, int byte, size_t bytes, Stream s);                         // async memset
void stream_sync(Stream s);
Stream stream_create();
void stream_destroy(Stream s);
void set_device(int device);
// Throws RWKVX_ERR_DEVICE if an earlier asynchronous launch failed.
void check(const char* what);

// A matrix in device memory, in GGUF orientation (rows = out, cols = in).
// F32, F16 and BF16 keep their bytes; Q8_0 is split into int8 values
// [rows][cols] and fp16 scales [rows][cols / 32] so loads stay 16-byte aligned.
struct DevMat {
  DType type = DType::F32;
  int64_t rows = 0, cols = 0;
  void* data = nullptr;
  void* scales = nullptr;
  size_t bytes() const;
};
DevMat upload_matrix(const TensorView& t, const char* what);
void free_matrix(DevMat& m);

// ------------------------------------------------------------------ linear
enum Act : int { kActNone = 0, kActTanh = 1, kActSigmoid = 2, kActRelu2 = 3 };

struct LinearJob {
  const DevMat* W;
  const float* X;   // [T][W.cols]
  float* Y;         // [T][W.rows]
  int act;          // applied to the product before storing
  bool accumulate;  // Y += (act must be none)
};
enum class LinearPath { Auto, Gemv, Gemm };
// Y = act(X · Wᵀ) for each job. T ≤ 8 (or Gemv): one warp per output row,
// fp32 math straight from the stored type (memory bound, decode). Otherwise the
// tensor-core GEMM: operands rounded to fp16 (bf16 for BF16 weights), fp32
// accumulation.
void linear(const LinearJob* jobs, int n_jobs, int64_t T, Stream s, LinearPath path = LinearPath::Auto);
// Prefill products of F16/BF16 weights go through cuBLAS (dlopen'ed) where it
// is found, else the own GEMM; RWKVX_CUDA_GEMM=own or set_cublas_gemm(false)
// choose the own GEMM. set_cublas_gemm(true) returns false if cuBLAS is absent.
bool set_cublas_gemm(bool on);
// Allocates (before a forward call's first kernel) what the cuBLAS path needs
// for T tokens and inputs up to max_cols wide, so running out of memory
// fails the call before it changes anything.
void reserve_linear_scratch(int64_t T, int64_t max_cols);
// The GEMM alone on fp16/bf16 operands already in device memory (benchmark):
// Y[M][N] = A[M][K] · B[N][K]ᵀ, fp32 out.
void gemm_half(const void* A, const void* B, float* Y, int64_t M, int64_t N, int64_t K, bool bf16, Stream s);

// ------------------------------------------------------------- elementwise
// h[t] = LN0(dequantized emb row tokens[t]).
void embed_ln(const DevMat& emb, const int32_t* tokens, int64_t T, const float* w, const float* b, float eps,
              float* h, Stream s);
void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t T, int64_t C, float eps, Stream s);

// x = LN(h) (stored), then for each of n_mix mixes: out_i = x + (before - x) * mu_i
// where before is x of the previous row (prev for the first). prev := x[T-1].
struct MixArgs {
  const float* mu[6];
  float* out[6];
  int n;
};
void ln_shift_mix(const float* h, const float* ln_w, const float* ln_b, float eps, float* x, float* prev,
                  const MixArgs& mix, int64_t T, int64_t C, Stream s);

// The time-mix gates between the projections and the recurrence (see
// executor_cpu.cpp time_mix): decay w, in-context rate a, value residual, kk,
// the modified k, and the recurrence inputs a_in = -kk, b = kk * a.
struct GateArgs {
  const float *wl, *al, *vl;  // LoRA outputs before their biases (vl null in layer 0)
  const float *w0, *a0, *v0, *k_k, *k_a;
  float *k, *v, *vfirst;      // k, v modified in place; vfirst written in layer 0
  float *w, *a_in, *b;        // outputs
  bool first_layer;
};
void tmix_gates(const GateArgs& g, int64_t T, int64_t H, Stream s);

// y = (GroupNorm_H(y) * w + b + per head (Σ r k r_k) v) * g, in place.
void tmix_out(float* y, const float* r, const float* k, const float* v, const float* g, const float* lnx_w,
              const float* lnx_b, const float* r_k, float eps, int64_t T, int64_t H, Stream s);

// ------------------------------------------------------------------- WKV-7
// The exact recurrence, sequential in time (one block per head, one thread per
// value row). S: [H][64][64] fp32 [value][key].
void wkv7_seq(int64_t T, int64_t H, const float* r, const float* w, const float* k, const float* v, const float* a,
              const float* b, float* S, float* y, Stream s);
// A decode step (T = 1) of tmix_gates + wkv7_seq + tmix_out in one kernel per
// head: y receives tmix_out's result; vfirst is written in layer 0.
struct DecodeCoreArgs {
  const float *r, *k, *v, *g, *wl, *al, *vl;  // vl unused in layer 0
  const float *w0, *a0, *v0, *k_k, *k_a, *r_k, *lnx_w, *lnx_b;
  float* vfirst;
  float eps;
  bool first_layer;
};
void wkv7_decode_fused(const DecodeCoreArgs& a, int64_t H, float* S, float* y, Stream s);
// The chunked (DPLR / WY) form: per chunk of kWkvChunk tokens in parallel,
// then a short sequential state pass, then outputs in parallel. fp32.
constexpr int kWkvChunk = 32;
size_t wkv7_chunked_workspace(int64_t T, int64_t H);
void wkv7_chunked(int64_t T, int64_t H, const float* r, const float* w, const float* k, const float* v,
                  const float* a, const float* b, float* S, float* y, void* workspace, Stream s);

// --------------------------------------------------------- KV cache, MoBA
// One KV page holds `chunk` rows of keys, then `chunk` rows of values (fp32 or
// fp16, width floats each), then the fp32 sum of its keys as stored [width].
size_t kv_page_bytes(int64_t chunk, int64_t width, bool f16);
struct KvView {
  void* const* pages;  // device array of page pointers (index = position / chunk)
  int64_t chunk, width;
  bool f16;
};
// Stores rows pos0..pos0+T-1 (pos0 read from device memory; h_pos0 must be the
// same value, used only to size the grid) and adds the stored keys to the sums.
void kv_append(const KvView& kv, const float* k, const float* v, int64_t T, const int64_t* pos0, int64_t h_pos0,
               Stream s);
// Recomputes one page's key sum from its first `rows` rows.
void kv_page_resum(void* page, int64_t rows, int64_t chunk, int64_t width, bool f16, Stream s);

// MoBA attention as trained (see ops.h moba_attention); positions pos0.. read
// from device memory. Per (query, head) the top-(top_k-1) earlier chunks are
// chosen from the key sums, then an online softmax runs over them and the own
// chunk, split over `splits` warps and merged. top_k <= kMaxTopK.
constexpr int kMaxTopK = 9;
size_t moba_workspace(int64_t T, int64_t H, int64_t top_k, int splits);
// Enough for any T ≤ T_cap with splits = moba_splits(T, H).
size_t moba_workspace_max(int64_t T_cap, int64_t H, int64_t top_k);
int moba_splits(int64_t T, int64_t H);
// h_pos0 ≥ 0 (the same position, known on the host) allows the grouped
// prefill path for 64 ≤ T ≤ 8192: per (chosen chunk, head) a block stages the
// chunk's keys once for every query that chose it; RWKVX_CUDA_MOBA=warp
// keeps the per-query kernel. Decode graphs pass -1.
void moba_attention(const KvView& kv, const float* q, int64_t T, const int64_t* pos0, int64_t H, int64_t top_k,
                    float scale, float* out, void* workspace, int splits, Stream s, int64_t h_pos0 = -1);

// --------------------------------------------------------------- probes
// Device-to-device copy rate (bytes read + written per second), median of runs.
double measure_copy_bandwidth(size_t bytes);
// Own tensor-core GEMM rate on random bf16 operands, FLOP/s.
double measure_gemm_rate(int64_t M, int64_t N, int64_t K);
// cuBLAS (dlopen'ed at run time, never linked) bf16 GEMM rate; < 0 with `why` if unavailable.
double measure_cublas_rate(int64_t M, int64_t N, int64_t K, std::string* why);

}  // namespace cuda
}  // namespace rwkvx
