// Matrix products Y = act(X · Wᵀ) for weights in their stored type.
//  - GEMV (decode, T ≤ 8): one warp per output row, 16-byte loads of the
//    weight row, fp32 math; several independent jobs in one launch so a decode
//    step pays one launch for r/k/v and the LoRA halves.
//  - GEMM (prefill): 128×128×32 tiles, 8 warps of 64×32, mma.sync m16n8k16
//    with fp16 operands (bf16 for BF16 weights) and fp32 accumulation. Operands
//    are converted while staged through registers into shared memory, double
//    buffered, so X stays fp32 in device memory and Q8_0 needs no copy.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "common.cuh"
#include "cublas_dl.h"

namespace rwkvx {
namespace cuda {

namespace {

constexpr int kMaxJobs = 8;
constexpr int kGemvRows = 8;  // warps (rows) per block

struct GemvJobDev {
  const void* W;
  const __half* scales;
  const float* X;
  float* Y;
  int type;  // DType
  int rows, cols;
  int act, acc;
  int block0;  // first block of this job
};
struct GemvBatch {
  GemvJobDev j[kMaxJobs];
  int n;
  int T;
};

__device__ __forceinline__ float dot8_h(const uint4 w, const float4 x0, const float4 x1) {
  const __half2* h = reinterpret_cast<const __half2*>(&w);
  const float2 a = __half22float2(h[0]), b = __half22float2(h[1]), c = __half22float2(h[2]), d = __half22float2(h[3]);
  return a.x * x0.x + a.y * x0.y + b.x * x0.z + b.y * x0.w + c.x * x1.x + c.y * x1.y + d.x * x1.z + d.y * x1.w;
}

__device__ __forceinline__ float dot8_bf(const uint4 w, const float4 x0, const float4 x1) {
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&w);
  const float2 a = __bfloat1622float2(h[0]), b = __bfloat1622float2(h[1]), c = __bfloat1622float2(h[2]),
               d = __bfloat1622float2(h[3]);
  return a.x * x0.x + a.y * x0.y + b.x * x0.z + b.y * x0.w + c.x * x1.x + c.y * x1.y + d.x * x1.z + d.y * x1.w;
}

__device__ __forceinline__ float dot16_q(const uint4 q, const float4* x) {
  const int8_t* v = reinterpret_cast<const int8_t*>(&q);
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 4; ++i) s += v[4 * i] * x[i].x + v[4 * i + 1] * x[i].y + v[4 * i + 2] * x[i].z + v[4 * i + 3] * x[i].w;
  return s;
}

template <int TM>
__global__ void __launch_bounds__(256) gemv_kernel(const GemvBatch b) {
  int ji = 0;
  while (ji + 1 < b.n && static_cast<int>(blockIdx.x) >= b.j[ji + 1].block0) ++ji;
  const GemvJobDev& J = b.j[ji];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int row = (blockIdx.x - J.block0) * kGemvRows + warp;
  if (row >= J.rows) return;
  const int K = J.cols, T = b.T;
  float acc[TM];
#pragma unroll
  for (int t = 0; t < TM; ++t) acc[t] = 0.f;
  const DType type = static_cast<DType>(J.type);
  if ((type == DType::F16 || type == DType::BF16) && K % 8 == 0) {
    const uint4* w = reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(J.W) + static_cast<size_t>(row) * K);
    // Up to four 16-byte weight loads in flight per lane before any math: one
    // load at a time leaves a warp waiting a full memory latency per 512 bytes.
    constexpr int U = 4;
    for (int k0 = lane * 8; k0 < K; k0 += U * 256) {
      uint4 wv[U];
#pragma unroll
      for (int u = 0; u < U; ++u)
        if (k0 + u * 256 < K) wv[u] = __ldg(w + (k0 + u * 256) / 8);
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int k = k0 + u * 256;
        if (k >= K) break;
#pragma unroll
        for (int t = 0; t < TM; ++t)
          if (t < T) {
            const float4* x = reinterpret_cast<const float4*>(J.X + static_cast<size_t>(t) * K + k);
            const float4 x0 = __ldg(x), x1 = __ldg(x + 1);
            acc[t] += type == DType::F16 ? dot8_h(wv[u], x0, x1) : dot8_bf(wv[u], x0, x1);
          }
      }
    }
  } else if (type == DType::Q8_0) {
    const uint4* q = reinterpret_cast<const uint4*>(static_cast<const int8_t*>(J.W) + static_cast<size_t>(row) * K);
    const __half* sc = J.scales + static_cast<size_t>(row) * (K / 32);
    for (int k = lane * 32; k < K; k += 1024) {
      // the next block's values are requested before this one's math
      const uint4 q0 = __ldg(q + k / 16), q1 = __ldg(q + k / 16 + 1);
      if (k + 1024 < K) {
        asm volatile("prefetch.global.L2 [%0];" ::"l"(q + (k + 1024) / 16));
      }
      const float d = __half2float(sc[k / 32]);
#pragma unroll
      for (int t = 0; t < TM; ++t)
        if (t < T) {
          const float4* x = reinterpret_cast<const float4*>(J.X + static_cast<size_t>(t) * K + k);
          float4 xs[8];
#pragma unroll
          for (int i = 0; i < 8; ++i) xs[i] = __ldg(x + i);
          acc[t] += d * (dot16_q(q0, xs) + dot16_q(q1, xs + 4));
        }
    }
  } else if (type == DType::F32 && K % 4 == 0) {
    const float4* w = reinterpret_cast<const float4*>(static_cast<const float*>(J.W) + static_cast<size_t>(row) * K);
    for (int k = lane * 4; k < K; k += 128) {
      const float4 wv = __ldg(w + k / 4);
#pragma unroll
      for (int t = 0; t < TM; ++t)
        if (t < T) {
          const float4 x = __ldg(reinterpret_cast<const float4*>(J.X + static_cast<size_t>(t) * K + k));
          acc[t] += wv.x * x.x + wv.y * x.y + wv.z * x.z + wv.w * x.w;
        }
    }
  } else {  // odd widths: one element at a time
    for (int k = lane; k < K; k += 32) {
      float wv;
      if (type == DType::F32) wv = static_cast<const float*>(J.W)[static_cast<size_t>(row) * K + k];
      else if (type == DType::F16) wv = __half2float(static_cast<const __half*>(J.W)[static_cast<size_t>(row) * K + k]);
      else wv = __bfloat162float(static_cast<const __nv_bfloat16*>(J.W)[static_cast<size_t>(row) * K + k]);
#pragma unroll
      for (int t = 0; t < TM; ++t)
        if (t < T) acc[t] += wv * J.X[static_cast<size_t>(t) * K + k];
    }
  }
#pragma unroll
  for (int t = 0; t < TM; ++t) {
    if (t >= T) break;
    const float s = warp_sum(acc[t]);
    if (lane == 0) {
      float* y = J.Y + static_cast<size_t>(t) * J.rows + row;
      *y = J.acc ? *y + s : apply_act(s, J.act);
    }
  }
}

// ------------------------------------------------------------------ GEMM
constexpr int BM = 128, BN = 128, BK = 32, LDS = BK + 8;  // smem row stride in halves (80 bytes: no ldmatrix conflicts)

enum AType { kA32 = 0, kA16 = 1 };

template <bool BF>
struct Cvt;
template <>
struct Cvt<false> {
  using T = __half;
  __device__ static __half2 pack(float a, float b) {
    // Saturate: an activation beyond fp16's range must not become inf.
    a = fminf(fmaxf(a, -65504.f), 65504.f);
    b = fminf(fmaxf(b, -65504.f), 65504.f);
    return __floats2half2_rn(a, b);
  }
};
template <>
struct Cvt<true> {
  using T = __nv_bfloat16;
  __device__ static __nv_bfloat162 pack(float a, float b) { return __floats2bfloat162_rn(a, b); }
};

__device__ __forceinline__ uint32_t as_u32(__half2 v) { return *reinterpret_cast<uint32_t*>(&v); }
__device__ __forceinline__ uint32_t as_u32(__nv_bfloat162 v) { return *reinterpret_cast<uint32_t*>(&v); }

__device__ __forceinline__ void ldmatrix_x4(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, const void* p) {
  const uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(a));
}

template <bool BF>
__device__ __forceinline__ void mma16816(float* c, const uint32_t* a, const uint32_t* b) {
  if constexpr (BF) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
}

struct GemmArgs {
  const void* A;   // [M][K], fp32 or already fp16/bf16
  const void* W;   // [N][K] in its stored type
  const __half* scales;
  float* Y;        // [M][N]
  int M, N, K;
  int act, acc;
};

// Global → registers (already converted to the compute type, 4 × 32-bit words
// for A and for B per thread) → shared memory.
template <int AT, int WT, bool BF>
struct Stager {
  uint32_t a[8], b[8];

  __device__ void load(const GemmArgs& g, int m0, int n0, int k0) {
    using C = Cvt<BF>;
    const int tid = threadIdx.x;
    // A: 128 rows × 32 k; thread → row tid/8 + 32 i, k (tid%8)*4.
    if constexpr (AT == kA32) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int r = tid / 8 + 32 * i, k = k0 + (tid % 8) * 4;
        float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
        if (m0 + r < g.M && k < g.K)
          v = __ldg(reinterpret_cast<const float4*>(static_cast<const float*>(g.A) + static_cast<size_t>(m0 + r) * g.K + k));
        a[2 * i] = as_u32(C::pack(v.x, v.y));
        a[2 * i + 1] = as_u32(C::pack(v.z, v.w));
      }
    } else {
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const int r = tid / 4 + 64 * i, k = k0 + (tid % 4) * 8;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (m0 + r < g.M && k < g.K)
          v = __ldg(reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(g.A) + static_cast<size_t>(m0 + r) * g.K + k));
        a[4 * i] = v.x; a[4 * i + 1] = v.y; a[4 * i + 2] = v.z; a[4 * i + 3] = v.w;
      }
    }
    // B: 128 rows (outputs) × 32 k.
    if constexpr (WT == static_cast<int>(DType::F16) || WT == static_cast<int>(DType::BF16)) {
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const int r = tid / 4 + 64 * i, k = k0 + (tid % 4) * 8;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (n0 + r < g.N && k < g.K)
          v = __ldg(reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(g.W) + static_cast<size_t>(n0 + r) * g.K + k));
        b[4 * i] = v.x; b[4 * i + 1] = v.y; b[4 * i + 2] = v.z; b[4 * i + 3] = v.w;
      }
    } else if constexpr (WT == static_cast<int>(DType::F32)) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int r = tid / 8 + 32 * i, k = k0 + (tid % 8) * 4;
        float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
        if (n0 + r < g.N && k < g.K)
          v = __ldg(reinterpret_cast<const float4*>(static_cast<const float*>(g.W) + static_cast<size_t>(n0 + r) * g.K + k));
        b[2 * i] = as_u32(C::pack(v.x, v.y));
        b[2 * i + 1] = as_u32(C::pack(v.z, v.w));
      }
    } else {  // Q8_0: thread → row tid/2, 16 values at k0 + (tid%2)*16 (K % 32 == 0)
      const int r = tid / 2, k = k0 + (tid % 2) * 16;
      uint4 q = make_uint4(0, 0, 0, 0);
      float d = 0.f;
      if (n0 + r < g.N && k < g.K) {
        q = __ldg(reinterpret_cast<const uint4*>(static_cast<const int8_t*>(g.W) + static_cast<size_t>(n0 + r) * g.K + k));
        d = __half2float(g.scales[static_cast<size_t>(n0 + r) * (g.K / 32) + k / 32]);
      }
      const int8_t* v = reinterpret_cast<const int8_t*>(&q);
#pragma unroll
      for (int i = 0; i < 8; ++i) b[i] = as_u32(C::pack(d * v[2 * i], d * v[2 * i + 1]));
    }
  }

  __device__ void store(uint16_t* As, uint16_t* Bs) const {
    const int tid = threadIdx.x;
    if constexpr (AT == kA32) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int r = tid / 8 + 32 * i, k = (tid % 8) * 4;
        *reinterpret_cast<uint2*>(As + r * LDS + k) = make_uint2(a[2 * i], a[2 * i + 1]);
      }
    } else {
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const int r = tid / 4 + 64 * i, k = (tid % 4) * 8;
        *reinterpret_cast<uint4*>(As + r * LDS + k) = make_uint4(a[4 * i], a[4 * i + 1], a[4 * i + 2], a[4 * i + 3]);
      }
    }
    if constexpr (WT == static_cast<int>(DType::F16) || WT == static_cast<int>(DType::BF16)) {
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const int r = tid / 4 + 64 * i, k = (tid % 4) * 8;
        *reinterpret_cast<uint4*>(Bs + r * LDS + k) = make_uint4(b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]);
      }
    } else if constexpr (WT == static_cast<int>(DType::F32)) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int r = tid / 8 + 32 * i, k = (tid % 8) * 4;
        *reinterpret_cast<uint2*>(Bs + r * LDS + k) = make_uint2(b[2 * i], b[2 * i + 1]);
      }
    } else {
      const int r = tid / 2, k = (tid % 2) * 16;
      *reinterpret_cast<uint4*>(Bs + r * LDS + k) = make_uint4(b[0], b[1], b[2], b[3]);
      *reinterpret_cast<uint4*>(Bs + r * LDS + k + 8) = make_uint4(b[4], b[5], b[6], b[7]);
    }
  }
};

template <int AT, int WT, bool BF>
__global__ void __launch_bounds__(256) gemm_kernel(const GemmArgs g) {
  __shared__ __align__(16) uint16_t As[2][BM * LDS];
  __shared__ __align__(16) uint16_t Bs[2][BN * LDS];
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int wm = warp / 4, wn = warp % 4;  // warp tile rows wm*64, cols wn*32
  float c[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) c[i][j][e] = 0.f;

  Stager<AT, WT, BF> st;
  const int nk = (g.K + BK - 1) / BK;
  st.load(g, m0, n0, 0);
  st.store(As[0], Bs[0]);
  __syncthreads();
  for (int kt = 0; kt < nk; ++kt) {
    const int cur = kt & 1;
    if (kt + 1 < nk) st.load(g, m0, n0, (kt + 1) * BK);
#pragma unroll
    for (int ks = 0; ks < BK / 16; ++ks) {
      uint32_t af[4][4], bfr[4][2];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi) {
        const uint16_t* p = As[cur] + (wm * 64 + mi * 16 + (lane % 16)) * LDS + ks * 16 + (lane / 16) * 8;
        ldmatrix_x4(af[mi][0], af[mi][1], af[mi][2], af[mi][3], p);
      }
#pragma unroll
      for (int np = 0; np < 2; ++np) {
        const int n = wn * 32 + np * 16 + (lane & 7) + ((lane >> 4) << 3);
        const uint16_t* p = Bs[cur] + n * LDS + ks * 16 + ((lane >> 3) & 1) * 8;
        ldmatrix_x4(bfr[2 * np][0], bfr[2 * np][1], bfr[2 * np + 1][0], bfr[2 * np + 1][1], p);
      }
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) mma16816<BF>(c[mi][ni], af[mi], bfr[ni]);
    }
    if (kt + 1 < nk) st.store(As[cur ^ 1], Bs[cur ^ 1]);
    __syncthreads();
  }
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int row = m0 + wm * 64 + mi * 16 + lane / 4 + (e >= 2 ? 8 : 0);
        const int col = n0 + wn * 32 + ni * 8 + (lane % 4) * 2 + (e & 1);
        if (row < g.M && col < g.N) {
          float* y = g.Y + static_cast<size_t>(row) * g.N + col;
          *y = g.acc ? *y + c[mi][ni][e] : apply_act(c[mi][ni][e], g.act);
        }
      }
}

template <int AT, int WT, bool BF>
void launch_gemm(const GemmArgs& g, Stream s) {
  const dim3 grid(static_cast<unsigned>(cdiv(g.N, BN)), static_cast<unsigned>(cdiv(g.M, BM)));
  gemm_kernel<AT, WT, BF><<<grid, 256, 0, s>>>(g);
  ck_launch("gemm");
}

void gemm_job(const LinearJob& j, int64_t T, Stream s) {
  const DevMat& W = *j.W;
  GemmArgs g{j.X, W.data, static_cast<const __half*>(W.scales), j.Y, static_cast<int>(T), static_cast<int>(W.rows),
             static_cast<int>(W.cols), j.act, j.accumulate ? 1 : 0};
  switch (W.type) {
    case DType::F16: launch_gemm<kA32, static_cast<int>(DType::F16), false>(g, s); break;
    case DType::BF16: launch_gemm<kA32, static_cast<int>(DType::BF16), true>(g, s); break;
    case DType::F32: launch_gemm<kA32, static_cast<int>(DType::F32), false>(g, s); break;
    case DType::Q8_0: launch_gemm<kA32, static_cast<int>(DType::Q8_0), false>(g, s); break;
  }
}

void gemv_jobs(const LinearJob* jobs, int n, int64_t T, Stream s) {
  GemvBatch b{};
  b.n = n;
  b.T = static_cast<int>(T);
  int blocks = 0;
  for (int i = 0; i < n; ++i) {
    const DevMat& W = *jobs[i].W;
    GemvJobDev& d = b.j[i];
    d.W = W.data;
    d.scales = static_cast<const __half*>(W.scales);
    d.X = jobs[i].X;
    d.Y = jobs[i].Y;
    d.type = static_cast<int>(W.type);
    d.rows = static_cast<int>(W.rows);
    d.cols = static_cast<int>(W.cols);
    d.act = jobs[i].act;
    d.acc = jobs[i].accumulate ? 1 : 0;
    d.block0 = blocks;
    blocks += static_cast<int>(cdiv(W.rows, kGemvRows));
  }
  if (blocks == 0) return;
  if (T == 1) gemv_kernel<1><<<blocks, 256, 0, s>>>(b);
  else if (T == 2) gemv_kernel<2><<<blocks, 256, 0, s>>>(b);
  else if (T <= 4) gemv_kernel<4><<<blocks, 256, 0, s>>>(b);
  else gemv_kernel<8><<<blocks, 256, 0, s>>>(b);
  ck_launch("gemv");
}

bool gemm_ok(const DevMat& W) { return W.cols % 8 == 0 && (W.type != DType::Q8_0 || W.cols % 32 == 0); }

// ---- the cuBLAS path (F16 and BF16 weights) when libcublas is found; RWKVX_CUDA_GEMM=own or set_cublas_gemm(false) turn it off
std::atomic<int> g_cublas{-1};  // -1: not decided yet

bool use_cublas() {
  int v = g_cublas.load();
  if (v < 0) {
    // cuBLAS where it is found (about 3x the own kernel's rate on Hopper);
    // RWKVX_CUDA_GEMM=own keeps the own kernel.
    const char* e = std::getenv("RWKVX_CUDA_GEMM");
    v = (e == nullptr || std::strcmp(e, "own") != 0) && cublas_api().ok() ? 1 : 0;
    g_cublas.store(v);
  }
  return v == 1;
}

template <bool BF>
__global__ void to_half_kernel(const float* __restrict__ x, typename Cvt<BF>::T* __restrict__ y, size_t n2) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n2; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float2 v = reinterpret_cast<const float2*>(x)[i];
    auto h = Cvt<BF>::pack(v.x, v.y);
    reinterpret_cast<decltype(h)*>(y)[i] = h;
  }
}

__global__ void act_kernel(float* y, size_t n, int act) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    y[i] = apply_act(y[i], act);
}

// One cuBLAS handle and one scratch buffer (X in the weights' type) per
// thread; the scratch grows during a forward call, the one allocation the
// own-kernel path does not make.
struct CublasThread {
  void* handle = nullptr;
  int device = -1;
  void* scratch = nullptr;
  size_t cap = 0;
};
thread_local CublasThread t_cublas;

// The calling thread's handle and a scratch of at least `need` bytes.
CublasThread& cublas_thread(size_t need) {
  const CublasApi& api = cublas_api();
  int dev = 0;
  ck(cudaGetDevice(&dev), "cuBLAS device");
  CublasThread& c = t_cublas;
  if (c.handle == nullptr || c.device != dev) {
    if (api.create(&c.handle) != 0) fail(RWKVX_ERR_DEVICE, "cublasCreate failed");
    c.device = dev;
    c.cap = 0;
    c.scratch = nullptr;  // (a scratch on another device is left to the process)
  }
  if (need > c.cap) {
    void* p = dev_alloc(need, "cuBLAS input scratch");  // throws before the old one is let go
    dev_free(c.scratch);
    c.scratch = p;
    c.cap = need;
  }
  return c;
}

bool cublas_job(const LinearJob& j, int64_t T, Stream s) {
  const DevMat& W = *j.W;
  if ((W.type != DType::F16 && W.type != DType::BF16) || W.cols % 2 != 0) return false;
  const CublasApi& api = cublas_api();
  const size_t need = static_cast<size_t>(T * W.cols) * 2;
  CublasThread& c = cublas_thread(need);
  const size_t n2 = need / 4;
  const unsigned blocks = static_cast<unsigned>(std::min<size_t>(4096, (n2 + 255) / 256));
  if (W.type == DType::BF16) to_half_kernel<true><<<blocks, 256, 0, s>>>(j.X, static_cast<__nv_bfloat16*>(c.scratch), n2);
  else to_half_kernel<false><<<blocks, 256, 0, s>>>(j.X, static_cast<__half*>(c.scratch), n2);
  ck_launch("cuBLAS input conversion");
  const int dt = W.type == DType::BF16 ? kCudaR16BF : kCudaR16F;
  const float one = 1.f, beta = j.accumulate ? 1.f : 0.f;
  if (api.set_stream(c.handle, s) != 0) fail(RWKVX_ERR_DEVICE, "cublasSetStream failed");
  // Row-major Y[T][rows] = X[T][K] · W[rows][K]ᵀ: column-major, Yᵀ [rows × T] = op_T(W [K × rows]) · X [K × T].
  const int st = api.gemm_ex(c.handle, kCublasOpT, kCublasOpN, static_cast<int>(W.rows), static_cast<int>(T),
                             static_cast<int>(W.cols), &one, W.data, dt, static_cast<int>(W.cols), c.scratch, dt,
                             static_cast<int>(W.cols), &beta, j.Y, kCudaR32F, static_cast<int>(W.rows),
                             kCublasCompute32F, kCublasGemmDefault);
  if (st != 0) fail(RWKVX_ERR_DEVICE, "cublasGemmEx failed with status %d", st);
  if (j.act != kActNone) {
    const size_t n = static_cast<size_t>(T * W.rows);
    act_kernel<<<static_cast<unsigned>(std::min<size_t>(4096, (n + 255) / 256)), 256, 0, s>>>(j.Y, n, j.act);
    ck_launch("activation");
  }
  return true;
}

}  // namespace

void linear(const LinearJob* jobs, int n_jobs, int64_t T, Stream s, LinearPath path) {
  if (T <= 0 || n_jobs <= 0) return;
  for (int i = 0; i < n_jobs; ++i)
    if (jobs[i].accumulate && jobs[i].act != kActNone) fail(RWKVX_ERR_INTERNAL, "linear: accumulate with an activation");
  const bool gemv = path == LinearPath::Gemv || (path == LinearPath::Auto && T <= 8);
  if (!gemv) {
    for (int i = 0; i < n_jobs; ++i) {
      if (use_cublas() && cublas_job(jobs[i], T, s)) continue;
      if (gemm_ok(*jobs[i].W)) {
        gemm_job(jobs[i], T, s);
      } else {  // widths the tiles cannot take: GEMV over groups of 8 tokens
        for (int64_t t0 = 0; t0 < T; t0 += 8) {
          LinearJob j = jobs[i];
          j.X += t0 * j.W->cols;
          j.Y += t0 * j.W->rows;
          gemv_jobs(&j, 1, std::min<int64_t>(8, T - t0), s);
        }
      }
    }
    return;
  }
  for (int64_t t0 = 0; t0 < T; t0 += 8) {
    const int64_t tn = std::min<int64_t>(8, T - t0);
    for (int i0 = 0; i0 < n_jobs; i0 += kMaxJobs) {
      LinearJob batch[kMaxJobs];
      const int n = std::min(kMaxJobs, n_jobs - i0);
      for (int i = 0; i < n; ++i) {
        batch[i] = jobs[i0 + i];
        batch[i].X += t0 * batch[i].W->cols;
        batch[i].Y += t0 * batch[i].W->rows;
      }
      gemv_jobs(batch, n, tn, s);
    }
  }
}

void reserve_linear_scratch(int64_t T, int64_t max_cols) {
  if (T > 8 && use_cublas()) cublas_thread(static_cast<size_t>(T * max_cols) * 2);
}

bool set_cublas_gemm(bool on) {
  const bool ok = !on || cublas_api().ok();
  g_cublas.store(on && ok ? 1 : 0);
  return ok;
}

void gemm_half(const void* A, const void* B, float* Y, int64_t M, int64_t N, int64_t K, bool bf16, Stream s) {
  if (K % 8 != 0) fail(RWKVX_ERR_INVALID_ARGUMENT, "gemm_half: K must be a multiple of 8");
  GemmArgs g{A, B, nullptr, Y, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), kActNone, 0};
  if (bf16) launch_gemm<kA16, static_cast<int>(DType::BF16), true>(g, s);
  else launch_gemm<kA16, static_cast<int>(DType::F16), false>(g, s);
}

}  // namespace cuda
}  // namespace rwkvx
