// RWKV-X attention on the GPU: the paged KV cache (appends keep each page's
// key sum, so chunk means cost nothing at query time) and MoBA attention as
// trained. Per (query, head): choose the top-(k-1) strictly earlier chunks by
// q · (key sum / B) (ties to the lower index; all earlier chunks while there
// are at most k-1), then an online softmax over those chunks and the own chunk
// up to the query. The keys of one query are split over `splits` warps whose
// partial (max, sum, acc) are merged afterwards, so a decode step still fills
// the GPU; within a warp each lane takes every 32nd key.
#include <cfloat>

#include "common.cuh"

namespace rwkvx {
namespace cuda {

namespace {

constexpr int N = 64;
constexpr int kSel = kMaxTopK - 1;
constexpr int kPart = N + 2;  // m, l, acc[64]

__device__ __forceinline__ size_t es(bool f16) { return f16 ? 2 : 4; }

__device__ __forceinline__ uint8_t* page_of(const KvView& kv, int64_t pos) {
  return static_cast<uint8_t*>(kv.pages[pos / kv.chunk]);
}
__device__ __forceinline__ const void* key_ptr(const KvView& kv, int64_t pos) {
  return page_of(kv, pos) + static_cast<size_t>(pos % kv.chunk) * kv.width * es(kv.f16);
}
__device__ __forceinline__ const void* value_ptr(const KvView& kv, int64_t pos) {
  return page_of(kv, pos) + static_cast<size_t>(kv.chunk + pos % kv.chunk) * kv.width * es(kv.f16);
}
__device__ __forceinline__ float* ksum_ptr(const KvView& kv, int64_t page) {
  return reinterpret_cast<float*>(static_cast<uint8_t*>(kv.pages[page]) + 2 * static_cast<size_t>(kv.chunk) * kv.width * es(kv.f16));
}

__global__ void kv_append_kernel(const KvView kv, const float* __restrict__ k, const float* __restrict__ v, int64_t T,
                                 const int64_t* pos0p) {
  const int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= kv.width) return;
  const int64_t pos0 = *pos0p, B = kv.chunk;
  const int64_t page = pos0 / B + blockIdx.y;
  const int64_t lo = max(pos0, page * B), hi = min(pos0 + T, (page + 1) * B);
  if (lo >= hi) return;
  float* ks = ksum_ptr(kv, page);
  float sum = ks[col];
#pragma unroll 8
  for (int64_t pos = lo; pos < hi; ++pos) {
    const int64_t t = pos - pos0;
    const float kv_k = k[t * kv.width + col], kv_v = v[t * kv.width + col];
    float stored;
    if (kv.f16) {
      const __half hk = __float2half_rn(kv_k);
      static_cast<__half*>(const_cast<void*>(key_ptr(kv, pos)))[col] = hk;
      static_cast<__half*>(const_cast<void*>(value_ptr(kv, pos)))[col] = __float2half_rn(kv_v);
      stored = __half2float(hk);
    } else {
      static_cast<float*>(const_cast<void*>(key_ptr(kv, pos)))[col] = kv_k;
      static_cast<float*>(const_cast<void*>(value_ptr(kv, pos)))[col] = kv_v;
      stored = kv_k;
    }
    sum += stored;  // the sum is of the keys as stored, in order (as on the CPU)
  }
  ks[col] = sum;
}

__global__ void kv_resum_kernel(uint8_t* page, int64_t rows, int64_t chunk, int64_t width, bool f16) {
  const int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= width) return;
  float sum = 0.f;
  for (int64_t r = 0; r < rows; ++r)
    sum += f16 ? __half2float(reinterpret_cast<const __half*>(page)[r * width + col])
               : reinterpret_cast<const float*>(page)[r * width + col];
  reinterpret_cast<float*>(page + 2 * static_cast<size_t>(chunk) * width * (f16 ? 2 : 4))[col] = sum;
}

// One warp per (token, head): the chosen earlier chunks, ascending.
__global__ void moba_select_kernel(const KvView kv, const float* __restrict__ q, int64_t T, const int64_t* pos0p,
                                   int64_t H, int64_t top_k, int* __restrict__ sel, int* __restrict__ nsel) {
  const int64_t wid = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (wid >= T * H) return;
  const int lane = threadIdx.x & 31;
  const int64_t t = wid / H, h = wid % H, B = kv.chunk;
  const int64_t pos = *pos0p + t, c = pos / B;
  int* out = sel + wid * kSel;
  if (c <= top_k - 1) {
    for (int64_t j = lane; j < c; j += 32) out[j] = static_cast<int>(j);
    if (lane == 0) nsel[wid] = static_cast<int>(c);
    return;
  }
  const int n_pick = static_cast<int>(top_k - 1);
  float qh[N];
  const float* qp = q + t * H * N + h * N;
#pragma unroll
  for (int d = 0; d < N; ++d) qh[d] = qp[d];
  // Lane-local best n_pick (score desc, index asc), then a warp merge.
  float bs[kSel];
  int bi[kSel];
#pragma unroll
  for (int i = 0; i < kSel; ++i) { bs[i] = -FLT_MAX; bi[i] = INT_MAX; }
  const float fB = static_cast<float>(B);
  for (int64_t j = lane; j < c; j += 32) {
    const float* ks = ksum_ptr(kv, j) + h * N;
    float s = 0.f;
#pragma unroll
    for (int d = 0; d < N; ++d) s += qh[d] * (ks[d] / fB);
    int jj = static_cast<int>(j);
    // insertion into the sorted list (better first)
#pragma unroll
    for (int i = 0; i < kSel; ++i) {
      if (i < n_pick && (s > bs[i] || (s == bs[i] && jj < bi[i]))) {
        const float ts = bs[i];
        const int ti = bi[i];
        bs[i] = s; bi[i] = jj;
        s = ts; jj = ti;
      }
    }
  }
  int picked[kSel];
  for (int r = 0; r < n_pick; ++r) {
    float s = bs[0];
    int idx = bi[0];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float os = __shfl_xor_sync(0xffffffffu, s, o);
      const int oi = __shfl_xor_sync(0xffffffffu, idx, o);
      if (os > s || (os == s && oi < idx)) { s = os; idx = oi; }
    }
    picked[r] = idx;
    if (bi[0] == idx) {  // the winner pops its head
#pragma unroll
      for (int i = 0; i + 1 < kSel; ++i) { bs[i] = bs[i + 1]; bi[i] = bi[i + 1]; }
      bs[kSel - 1] = -FLT_MAX;
      bi[kSel - 1] = INT_MAX;
    }
  }
  if (lane == 0) {
    // ascending chunk order (as the CPU attends them)
    for (int i = 1; i < n_pick; ++i)
      for (int j = i; j > 0 && picked[j - 1] > picked[j]; --j) {
        const int x = picked[j]; picked[j] = picked[j - 1]; picked[j - 1] = x;
      }
    for (int i = 0; i < n_pick; ++i) out[i] = picked[i];
    nsel[wid] = n_pick;
  }
}

__device__ __forceinline__ void load_row(const void* p, bool f16, float* x) {
  if (f16) {
    const uint4* u = static_cast<const uint4*>(p);
#pragma unroll
    for (int i = 0; i < N / 8; ++i) {
      const uint4 w = u[i];
      const __half2* hh = reinterpret_cast<const __half2*>(&w);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float2 f = __half22float2(hh[e]);
        x[8 * i + 2 * e] = f.x;
        x[8 * i + 2 * e + 1] = f.y;
      }
    }
  } else {
    const float4* u = static_cast<const float4*>(p);
#pragma unroll
    for (int i = 0; i < N / 4; ++i) {
      const float4 w = u[i];
      x[4 * i] = w.x; x[4 * i + 1] = w.y; x[4 * i + 2] = w.z; x[4 * i + 3] = w.w;
    }
  }
}

// One warp per (token, head, split).
__global__ void __launch_bounds__(128) moba_attend_kernel(const KvView kv, const float* __restrict__ q, int64_t T,
                                                          const int64_t* pos0p, int64_t H, float scale,
                                                          const int* __restrict__ sel, const int* __restrict__ nsel,
                                                          int splits, float* __restrict__ part, float* __restrict__ out) {
  const int64_t wid = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (wid >= T * H * splits) return;
  const int lane = threadIdx.x & 31;
  const int64_t qh_i = wid / splits, p = wid % splits;
  const int64_t t = qh_i / H, h = qh_i % H, B = kv.chunk;
  const int64_t pos = *pos0p + t, c = pos / B;
  const int ns = nsel[qh_i];
  const int* chosen = sel + qh_i * kSel;
  const int64_t n = ns * B + (pos - c * B + 1);
  const int64_t per = (n + splits - 1) / splits, lo = p * per, hi = min(n, lo + per);
  float qv[N], acc[N];
  const float* qp = q + t * H * N + h * N;
#pragma unroll
  for (int d = 0; d < N; ++d) { qv[d] = qp[d]; acc[d] = 0.f; }
  float m = -INFINITY, l = 0.f;
  for (int64_t idx = lo + lane; idx < hi; idx += 32) {
    const int64_t kp = idx < ns * B ? chosen[idx / B] * B + idx % B : c * B + (idx - ns * B);
    float x[N];
    load_row(static_cast<const uint8_t*>(key_ptr(kv, kp)) + h * N * es(kv.f16), kv.f16, x);
    float s = 0.f;
#pragma unroll
    for (int d = 0; d < N; ++d) s += qv[d] * x[d];
    const float logit = s * scale;
    if (logit > m) {
      const float corr = expf(m - logit);
      l *= corr;
#pragma unroll
      for (int d = 0; d < N; ++d) acc[d] *= corr;
      m = logit;
    }
    const float e = expf(logit - m);
    l += e;
    load_row(static_cast<const uint8_t*>(value_ptr(kv, kp)) + h * N * es(kv.f16), kv.f16, x);
#pragma unroll
    for (int d = 0; d < N; ++d) acc[d] += e * x[d];
  }
  const float M = warp_max(m);
  const float f = m == -INFINITY ? 0.f : expf(m - M);
  const float lt = warp_sum(l * f);
  float mine0 = 0.f, mine1 = 0.f;
#pragma unroll
  for (int d = 0; d < N; ++d) {
    const float sd = warp_sum(acc[d] * f);
    if ((d & 31) == lane) {
      if (d < 32) mine0 = sd; else mine1 = sd;
    }
  }
  if (splits == 1) {
    float* o = out + t * H * N + h * N;
    o[lane] = mine0 / lt;
    o[lane + 32] = mine1 / lt;
  } else {
    float* pp = part + wid * kPart;
    if (lane == 0) { pp[0] = M; pp[1] = lt; }
    pp[2 + lane] = mine0;
    pp[2 + 32 + lane] = mine1;
  }
}

__global__ void moba_combine_kernel(const float* __restrict__ part, int64_t T, int64_t H, int splits,
                                    float* __restrict__ out) {
  const int64_t wid = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (wid >= T * H) return;
  const int lane = threadIdx.x & 31;
  const float* pp = part + wid * splits * kPart;
  float M = -INFINITY;
  for (int p = 0; p < splits; ++p) M = fmaxf(M, pp[p * kPart]);
  float l = 0.f, a0 = 0.f, a1 = 0.f;
  for (int p = 0; p < splits; ++p) {
    const float mp = pp[p * kPart];
    if (mp == -INFINITY) continue;
    const float f = expf(mp - M);
    l += pp[p * kPart + 1] * f;
    a0 += pp[p * kPart + 2 + lane] * f;
    a1 += pp[p * kPart + 2 + 32 + lane] * f;
  }
  float* o = out + wid * N;  // (t * H + h) * N
  o[lane] = a0 / l;
  o[lane + 32] = a1 / l;
}

}  // namespace

size_t kv_page_bytes(int64_t chunk, int64_t width, bool f16) {
  const size_t b = 2 * static_cast<size_t>(chunk) * width * (f16 ? 2 : 4) + static_cast<size_t>(width) * 4;
  return (b + 255) / 256 * 256;
}

void kv_append(const KvView& kv, const float* k, const float* v, int64_t T, const int64_t* pos0, int64_t h_pos0,
               Stream s) {
  if (T <= 0) return;
  const int64_t pages = (h_pos0 + T - 1) / kv.chunk - h_pos0 / kv.chunk + 1;
  kv_append_kernel<<<dim3(static_cast<unsigned>(cdiv(kv.width, 128)), static_cast<unsigned>(pages)), 128, 0, s>>>(
      kv, k, v, T, pos0);
  ck_launch("kv_append");
}

void kv_page_resum(void* page, int64_t rows, int64_t chunk, int64_t width, bool f16, Stream s) {
  kv_resum_kernel<<<static_cast<unsigned>(cdiv(width, 128)), 128, 0, s>>>(static_cast<uint8_t*>(page), rows, chunk,
                                                                          width, f16);
  ck_launch("kv_page_resum");
}

int moba_splits(int64_t T, int64_t H) {
  const int64_t want = 8192 / (T * H);
  return static_cast<int>(want < 1 ? 1 : want > 32 ? 32 : want);
}

size_t moba_workspace(int64_t T, int64_t H, int64_t top_k, int splits) {
  const size_t sel = static_cast<size_t>(T * H) * (kSel + 1) * sizeof(int);
  const size_t part = splits > 1 ? static_cast<size_t>(T * H) * splits * kPart * sizeof(float) : 0;
  return (sel + 255) / 256 * 256 + part;
}

size_t moba_workspace_max(int64_t T_cap, int64_t H, int64_t top_k) {
  // moba_splits keeps T * H * splits ≤ 8192 whenever splits > 1.
  const size_t sel = static_cast<size_t>(T_cap * H) * (kSel + 1) * sizeof(int);
  return (sel + 255) / 256 * 256 + static_cast<size_t>(8192) * kPart * sizeof(float);
}

void moba_attention(const KvView& kv, const float* q, int64_t T, const int64_t* pos0, int64_t H, int64_t top_k,
                    float scale, float* out, void* workspace, int splits, Stream s) {
  if (T <= 0) return;
  if (top_k < 1 || top_k > kMaxTopK)
    fail(RWKVX_ERR_UNSUPPORTED, "CUDA attention supports top-k 1..%d, the model has %lld", kMaxTopK, (long long)top_k);
  int* sel = static_cast<int*>(workspace);
  int* nsel = sel + T * H * kSel;
  const size_t sel_bytes = (static_cast<size_t>(T * H) * (kSel + 1) * sizeof(int) + 255) / 256 * 256;
  float* part = reinterpret_cast<float*>(static_cast<uint8_t*>(workspace) + sel_bytes);
  moba_select_kernel<<<static_cast<unsigned>(cdiv(T * H * 32, 256)), 256, 0, s>>>(kv, q, T, pos0, H, top_k, sel, nsel);
  ck_launch("moba_select");
  moba_attend_kernel<<<static_cast<unsigned>(cdiv(T * H * splits * 32, 128)), 128, 0, s>>>(kv, q, T, pos0, H, scale, sel,
                                                                                          nsel, splits, part, out);
  ck_launch("moba_attend");
  if (splits > 1) {
    moba_combine_kernel<<<static_cast<unsigned>(cdiv(T * H * 32, 256)), 256, 0, s>>>(part, T, H, splits, out);
    ck_launch("moba_combine");
  }
}

}  // namespace cuda
}  // namespace rwkvx
