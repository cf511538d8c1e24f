// RWKV-X attention on the GPU: the paged KV cache (appends keep each page's
// key sum, so chunk means cost nothing at query time) and MoBA attention as
// trained. Per (query, head): choose the top-(k-1) strictly earlier chunks by
// q · (key sum / B) (ties to the lower index; all earlier chunks while there
// are at most k-1), then an online softmax over those chunks and the own chunk
// up to the query. The keys of one query are split over `splits` warps whose
// partial (max, sum, acc) are merged afterwards, so a decode step still fills
// the GPU; within a warp each lane takes every 32nd key.
#include <cfloat>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <algorithm>

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

// ---- prefill, grouped: the keys of a chunk are staged once in shared memory
// for a tile of up to 64 queries that chose it (and the own chunk for a tile of
// 64 consecutive queries), instead of once per query. Thread (row r = tid/4,
// quarter q = tid%4) holds scores of keys 16q.. and output dims 16q.. of row r.
constexpr int QT = 64, KT = 64, LDT = 65;
constexpr int kTileFloats = 4 * QT * LDT;  // Q, K, V, P
constexpr int kMaxGroupedT = 8192;

// Online softmax of the rows in Qs over keys kbase .. kbase+nkeys-1, each row
// limited to positions [lo, hi].
__device__ void attend_keys(const KvView& kv, int64_t h, int64_t kbase, int64_t nkeys, const float* Qs, float* Ks, float* Vs,
                            float* Ps, int64_t lo, int64_t hi, float scale, float& m, float& l, float* acc) {
  const int tid = threadIdx.x, r = tid / 4, q = tid % 4;
  __syncthreads();  // the caller's Qs rows are visible
  float qr[N];
#pragma unroll
  for (int e = 0; e < N; ++e) qr[e] = Qs[r * LDT + e];
  for (int64_t kt = 0; kt < nkeys; kt += KT) {
    __syncthreads();
    {  // stage 64 keys and values: thread → key tid/4, dims 16 (tid%4)..
      const int kk = tid / 4, d0 = (tid % 4) * 16;
      float kx[16], vx[16];
      if (kt + kk < nkeys) {
        const int64_t pos = kbase + kt + kk;
        const uint8_t* kp = static_cast<const uint8_t*>(key_ptr(kv, pos)) + (h * N + d0) * es(kv.f16);
        const uint8_t* vp = static_cast<const uint8_t*>(value_ptr(kv, pos)) + (h * N + d0) * es(kv.f16);
        if (kv.f16) {
#pragma unroll
          for (int u = 0; u < 2; ++u) {
            const uint4 a = reinterpret_cast<const uint4*>(kp)[u], b = reinterpret_cast<const uint4*>(vp)[u];
            const __half2* ah = reinterpret_cast<const __half2*>(&a);
            const __half2* bh = reinterpret_cast<const __half2*>(&b);
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const float2 fa = __half22float2(ah[e]), fb = __half22float2(bh[e]);
              kx[8 * u + 2 * e] = fa.x; kx[8 * u + 2 * e + 1] = fa.y;
              vx[8 * u + 2 * e] = fb.x; vx[8 * u + 2 * e + 1] = fb.y;
            }
          }
        } else {
#pragma unroll
          for (int u = 0; u < 4; ++u) {
            const float4 a = reinterpret_cast<const float4*>(kp)[u], b = reinterpret_cast<const float4*>(vp)[u];
            kx[4 * u] = a.x; kx[4 * u + 1] = a.y; kx[4 * u + 2] = a.z; kx[4 * u + 3] = a.w;
            vx[4 * u] = b.x; vx[4 * u + 1] = b.y; vx[4 * u + 2] = b.z; vx[4 * u + 3] = b.w;
          }
        }
      } else {
#pragma unroll
        for (int e = 0; e < 16; ++e) kx[e] = vx[e] = 0.f;
      }
#pragma unroll
      for (int e = 0; e < 16; ++e) {
        Ks[kk * LDT + d0 + e] = kx[e];
        Vs[kk * LDT + d0 + e] = vx[e];
      }
    }
    __syncthreads();
    float sc[16];
    float tmax = -INFINITY;
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const int kk = q * 16 + i;
      const int64_t pos = kbase + kt + kk;
      float d = 0.f;
#pragma unroll
      for (int e = 0; e < N; ++e) d += qr[e] * Ks[kk * LDT + e];
      sc[i] = (kt + kk < nkeys && pos >= lo && pos <= hi) ? d * scale : -INFINITY;
      tmax = fmaxf(tmax, sc[i]);
    }
    tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, 1));
    tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, 2));
    const float mn = fmaxf(m, tmax);
    const float corr = m == -INFINITY ? 0.f : expf(m - mn);
    float ps = 0.f;
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const float pv = sc[i] == -INFINITY ? 0.f : expf(sc[i] - mn);
      ps += pv;
      Ps[r * LDT + q * 16 + i] = pv;
    }
    ps += __shfl_xor_sync(0xffffffffu, ps, 1);
    ps += __shfl_xor_sync(0xffffffffu, ps, 2);
    l = l * corr + ps;
#pragma unroll
    for (int e = 0; e < 16; ++e) acc[e] *= corr;
    m = mn;
    __syncthreads();
    for (int kk = 0; kk < KT; ++kk) {
      const float pv = Ps[r * LDT + kk];
#pragma unroll
      for (int e = 0; e < 16; ++e) acc[e] += pv * Vs[kk * LDT + q * 16 + e];
    }
  }
}

__device__ void load_q_rows(float* Qs, const float* q, int64_t H, int64_t h, int64_t t, bool valid) {
  const int r = threadIdx.x / 4, d0 = (threadIdx.x % 4) * 16;
  const float* src = q + t * H * N + h * N + d0;
#pragma unroll
  for (int e = 0; e < 16; ++e) Qs[r * LDT + d0 + e] = valid ? src[e] : 0.f;
}

__device__ void store_part(float* part, int64_t slot_index, float m, float l, const float* acc) {
  float* pp = part + slot_index * kPart;
  const int q = threadIdx.x % 4;
  if (q == 0) { pp[0] = m; pp[1] = l; }
#pragma unroll
  for (int e = 0; e < 16; ++e) pp[2 + q * 16 + e] = acc[e];
}

// Block (chunk j, head h): every query of the call that chose j, 64 at a time.
__global__ void __launch_bounds__(256) moba_chosen_kernel(const KvView kv, const float* __restrict__ q, int64_t T,
                                                          int64_t H, int64_t top_k, float scale,
                                                          const int* __restrict__ sel, const int* __restrict__ nsel,
                                                          float* __restrict__ part) {
  extern __shared__ float sm[];
  float* Qs = sm;
  float* Ks = Qs + QT * LDT;
  float* Vs = Ks + QT * LDT;
  float* Ps = Vs + QT * LDT;
  int* list = reinterpret_cast<int*>(Ps + QT * LDT);
  __shared__ int count;
  const int j = blockIdx.x;
  const int64_t h = blockIdx.y, B = kv.chunk;
  if (threadIdx.x == 0) count = 0;
  __syncthreads();
  for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
    const int64_t qh = t * H + h;
    const int ns = nsel[qh];
    for (int s = 0; s < ns; ++s)
      if (sel[qh * kSel + s] == j) list[atomicAdd(&count, 1)] = static_cast<int>(t * kSel + s);
  }
  __syncthreads();
  const int n = count;
  for (int base = 0; base < n; base += QT) {
    const int r = threadIdx.x / 4;
    const bool valid = base + r < n;
    const int ent = valid ? list[base + r] : 0;
    const int64_t t = ent / kSel, slot = ent % kSel;
    load_q_rows(Qs, q, H, h, t, valid);
    float m = -INFINITY, l = 0.f, acc[16];
#pragma unroll
    for (int e = 0; e < 16; ++e) acc[e] = 0.f;
    attend_keys(kv, h, static_cast<int64_t>(j) * B, B, Qs, Ks, Vs, Ps, valid ? 0 : 1, valid ? INT64_MAX : 0, scale, m, l, acc);
    if (valid) store_part(part, (t * H + h) * top_k + slot, m, l, acc);
    __syncthreads();  // Qs is rewritten next round
  }
}

// Block (64 consecutive queries, head h): the own chunk, causally; marks the
// unused chosen slots of each query empty.
__global__ void __launch_bounds__(256) moba_own_kernel(const KvView kv, const float* __restrict__ q, int64_t T,
                                                       const int64_t* pos0p, int64_t H, int64_t top_k, float scale,
                                                       const int* __restrict__ nsel, float* __restrict__ part) {
  extern __shared__ float sm[];
  float* Qs = sm;
  float* Ks = Qs + QT * LDT;
  float* Vs = Ks + QT * LDT;
  float* Ps = Vs + QT * LDT;
  const int64_t h = blockIdx.y, B = kv.chunk, pos0 = *pos0p;
  const int64_t t0 = static_cast<int64_t>(blockIdx.x) * QT;
  const int r = threadIdx.x / 4;
  const int64_t t = t0 + r;
  const bool valid = t < T;
  const int64_t pos = pos0 + t;
  const int64_t last = min(T, t0 + QT) - 1;
  const int64_t kbase = ((pos0 + t0) / B) * B, kend = pos0 + last;  // keys of every row's own chunk up to the last row
  load_q_rows(Qs, q, H, h, valid ? t : 0, valid);
  float m = -INFINITY, l = 0.f, acc[16];
#pragma unroll
  for (int e = 0; e < 16; ++e) acc[e] = 0.f;
  attend_keys(kv, h, kbase, kend - kbase + 1, Qs, Ks, Vs, Ps, valid ? (pos / B) * B : 1, valid ? pos : 0, scale, m, l, acc);
  if (valid) {
    store_part(part, (t * H + h) * top_k + (top_k - 1), m, l, acc);
    if (threadIdx.x % 4 == 0)
      for (int64_t s = nsel[t * H + h]; s < top_k - 1; ++s) part[((t * H + h) * top_k + s) * kPart] = -INFINITY;
  }
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
  // moba_splits keeps T * H * splits ≤ 8192 whenever splits > 1; the grouped
  // prefill keeps top_k partials per (query, head).
  const size_t sel = static_cast<size_t>(T_cap * H) * (kSel + 1) * sizeof(int);
  const size_t part = std::max<size_t>(8192, static_cast<size_t>(std::min<int64_t>(T_cap, kMaxGroupedT) * H * top_k));
  return (sel + 255) / 256 * 256 + part * kPart * sizeof(float);
}

bool moba_grouped(int64_t T) {
  static const bool off = std::getenv("RWKVX_CUDA_MOBA") && std::strcmp(std::getenv("RWKVX_CUDA_MOBA"), "warp") == 0;
  return !off && T >= 64 && T <= kMaxGroupedT;
}

void moba_attention(const KvView& kv, const float* q, int64_t T, const int64_t* pos0, int64_t H, int64_t top_k,
                    float scale, float* out, void* workspace, int splits, Stream s, int64_t h_pos0) {
  if (T <= 0) return;
  if (top_k < 1 || top_k > kMaxTopK)
    fail(RWKVX_ERR_UNSUPPORTED, "CUDA attention supports top-k 1..%d, the model has %lld", kMaxTopK, (long long)top_k);
  int* sel = static_cast<int*>(workspace);
  int* nsel = sel + T * H * kSel;
  const size_t sel_bytes = (static_cast<size_t>(T * H) * (kSel + 1) * sizeof(int) + 255) / 256 * 256;
  float* part = reinterpret_cast<float*>(static_cast<uint8_t*>(workspace) + sel_bytes);
  moba_select_kernel<<<static_cast<unsigned>(cdiv(T * H * 32, 256)), 256, 0, s>>>(kv, q, T, pos0, H, top_k, sel, nsel);
  ck_launch("moba_select");
  if (h_pos0 >= 0 && moba_grouped(T)) {
    const int own_smem = kTileFloats * 4, chosen_smem = own_smem + static_cast<int>(T) * 4;
    int dev = 0;
    ck(cudaGetDevice(&dev), "moba");
    static std::mutex mu;
    static bool prepared[64] = {};
    {
      std::lock_guard<std::mutex> lock(mu);
      if (dev < 64 && !prepared[dev]) {
        const int most = kTileFloats * 4 + kMaxGroupedT * 4;
        ck(cudaFuncSetAttribute(moba_chosen_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, most), "moba smem");
        ck(cudaFuncSetAttribute(moba_own_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kTileFloats * 4), "moba smem");
        prepared[dev] = true;
      }
    }
    const int64_t n_prev = (h_pos0 + T - 1) / kv.chunk;  // chunks before the last query's own
    if (n_prev > 0) {
      moba_chosen_kernel<<<dim3(static_cast<unsigned>(n_prev), static_cast<unsigned>(H)), 256, chosen_smem, s>>>(
          kv, q, T, H, top_k, scale, sel, nsel, part);
      ck_launch("moba_chosen");
    }
    moba_own_kernel<<<dim3(static_cast<unsigned>(cdiv(T, QT)), static_cast<unsigned>(H)), 256, own_smem, s>>>(
        kv, q, T, pos0, H, top_k, scale, nsel, part);
    ck_launch("moba_own");
    moba_combine_kernel<<<static_cast<unsigned>(cdiv(T * H * 32, 256)), 256, 0, s>>>(part, T, H, static_cast<int>(top_k), out);
    ck_launch("moba_combine");
    return;
  }
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
