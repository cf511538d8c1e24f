// Norms, token shift + mixes, time-mix gates and output: the memory-bound work
// between the matrix products, fused so a decode step launches few kernels.
#include "common.cuh"

namespace rwkvx {
namespace cuda {

namespace {

// Mean and 1/sqrt(var + eps) of a row of C (two passes; every thread gets them).
__device__ void row_stats(const float* x, int64_t C, float eps, float* red, float& mean, float& inv) {
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) s += x[i];
  mean = block_sum(s, red) / static_cast<float>(C);
  float v = 0.f;
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) {
    const float d = x[i] - mean;
    v += d * d;
  }
  const float var = block_sum(v, red) / static_cast<float>(C);
  inv = 1.f / sqrtf(var + eps);
}

__device__ __forceinline__ float load_elem(const void* row, int type, int64_t i, const __half* scales) {
  switch (static_cast<DType>(type)) {
    case DType::F32: return static_cast<const float*>(row)[i];
    case DType::F16: return __half2float(static_cast<const __half*>(row)[i]);
    case DType::BF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(row)[i]);
    case DType::Q8_0: return static_cast<const int8_t*>(row)[i] * __half2float(scales[i / 32]);
  }
  return 0.f;
}

__global__ void embed_ln_kernel(const void* emb, const __half* scales, int type, int64_t C, const int32_t* tokens,
                                const float* w, const float* b, float eps, float* h) {
  __shared__ float red[32];
  const int64_t t = blockIdx.x;
  const int64_t tok = tokens[t];
  const size_t esz = static_cast<DType>(type) == DType::F32 ? 4 : static_cast<DType>(type) == DType::Q8_0 ? 1 : 2;
  const void* row = static_cast<const uint8_t*>(emb) + static_cast<size_t>(tok) * C * esz;
  const __half* sc = scales ? scales + static_cast<size_t>(tok) * (C / 32) : nullptr;
  float* y = h + t * C;
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) y[i] = load_elem(row, type, i, sc);
  float mean, inv;
  row_stats(y, C, eps, red, mean, inv);
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) y[i] = (y[i] - mean) * inv * w[i] + b[i];
}

__global__ void layer_norm_kernel(const float* x, const float* w, const float* b, float* y, int64_t C, float eps) {
  __shared__ float red[32];
  const float* xr = x + blockIdx.x * C;
  float* yr = y + blockIdx.x * C;
  float mean, inv;
  row_stats(xr, C, eps, red, mean, inv);
  __syncthreads();  // y may alias x
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) yr[i] = (xr[i] - mean) * inv * w[i] + b[i];
}

// Rows of up to kRowPer × blockDim floats are held in registers, so the
// statistics and the output need one read of the row (a decode step's norms
// are latency-bound: every extra pass over global memory is a round trip).
constexpr int kRowPer = 16;

__device__ __forceinline__ void reg_row_stats(const float (&v)[kRowPer], int64_t C, float eps, float* red, float& mean,
                                              float& inv) {
  float s = 0.f;
#pragma unroll
  for (int k = 0; k < kRowPer; ++k)
    if (threadIdx.x + k * blockDim.x < C) s += v[k];
  mean = block_sum(s, red) / static_cast<float>(C);
  float q = 0.f;
#pragma unroll
  for (int k = 0; k < kRowPer; ++k)
    if (threadIdx.x + k * blockDim.x < C) {
      const float d = v[k] - mean;
      q += d * d;
    }
  inv = 1.f / sqrtf(block_sum(q, red) / static_cast<float>(C) + eps);
}

__global__ void ln_shift_mix_kernel(const float* h, const float* lw, const float* lb, float eps, float* x, float* prev,
                                    const MixArgs mix, int64_t C, int write_prev) {
  __shared__ float red[32];
  const int64_t t = blockIdx.x;
  const float* hr = h + t * C;
  // The previous row's LN is recomputed here (the same arithmetic as its own
  // block), so no block depends on another; both rows are read at once.
  float cur[kRowPer], prv[kRowPer];
#pragma unroll
  for (int k = 0; k < kRowPer; ++k) {
    const int64_t i = threadIdx.x + k * static_cast<int64_t>(blockDim.x);
    cur[k] = i < C ? hr[i] : 0.f;
    prv[k] = i < C && t > 0 ? hr[i - C] : 0.f;
  }
  float m1, i1, m0 = 0.f, i0 = 0.f;
  reg_row_stats(cur, C, eps, red, m1, i1);
  if (t > 0) reg_row_stats(prv, C, eps, red, m0, i0);
#pragma unroll
  for (int k = 0; k < kRowPer; ++k) {
    const int64_t i = threadIdx.x + k * static_cast<int64_t>(blockDim.x);
    if (i >= C) break;
    const float xv = (cur[k] - m1) * i1 * lw[i] + lb[i];
    const float before = t > 0 ? (prv[k] - m0) * i0 * lw[i] + lb[i] : prev[i];
    const float xx = before - xv;
    x[t * C + i] = xv;
#pragma unroll
    for (int j = 0; j < 6; ++j)
      if (j < mix.n) mix.out[j][t * C + i] = xv + xx * mix.mu[j][i];
    if (write_prev) prev[i] = xv;
  }
}

// One warp per (token, head); lane holds elements lane and lane + 32.
__global__ void tmix_gates_kernel(const GateArgs g, int64_t T, int64_t H) {
  const int64_t wid = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (wid >= T * H) return;
  const int lane = threadIdx.x & 31;
  const int64_t t = wid / H, hh = wid % H, C = H * 64;
  float kk[2], av[2];
#pragma unroll
  for (int e = 0; e < 2; ++e) {
    const int64_t c = hh * 64 + lane + 32 * e, o = t * C + c;
    g.w[o] = expf(-0.606531f / (1.f + expf(-(g.wl[o] + g.w0[c]))));
    av[e] = 1.f / (1.f + expf(-(g.al[o] + g.a0[c])));
    if (g.first_layer) {
      g.vfirst[o] = g.v[o];
    } else {
      const float s = 1.f / (1.f + expf(-(g.vl[o] + g.v0[c])));
      g.v[o] += (g.vfirst[o] - g.v[o]) * s;
    }
    kk[e] = g.k[o] * g.k_k[c];
  }
  const float ss = warp_sum(kk[0] * kk[0] + kk[1] * kk[1]);
  const float inv = 1.f / fmaxf(sqrtf(ss), 1e-12f);
#pragma unroll
  for (int e = 0; e < 2; ++e) {
    const int64_t c = hh * 64 + lane + 32 * e, o = t * C + c;
    const float z = kk[e] * inv;
    g.k[o] *= 1.f + (av[e] - 1.f) * g.k_a[c];
    g.a_in[o] = -z;
    g.b[o] = z * av[e];
  }
}

__global__ void tmix_out_kernel(float* y, const float* r, const float* k, const float* v, const float* g,
                                const float* lw, const float* lb, const float* r_k, float eps, int64_t T, int64_t H) {
  const int64_t wid = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (wid >= T * H) return;
  const int lane = threadIdx.x & 31;
  const int64_t t = wid / H, hh = wid % H, C = H * 64;
  const int64_t o0 = t * C + hh * 64 + lane, o1 = o0 + 32;
  const float y0 = y[o0], y1 = y[o1];
  const float mean = warp_sum(y0 + y1) / 64.f;
  const float d0 = y0 - mean, d1 = y1 - mean;
  const float var = warp_sum(d0 * d0 + d1 * d1) / 64.f;
  const float inv = 1.f / sqrtf(var + eps);
  const int64_t c0 = hh * 64 + lane, c1 = c0 + 32;
  const float s = warp_sum(r[o0] * k[o0] * r_k[c0] + r[o1] * k[o1] * r_k[c1]);
  y[o0] = (d0 * inv * lw[c0] + lb[c0] + s * v[o0]) * g[o0];
  y[o1] = (d1 * inv * lw[c1] + lb[c1] + s * v[o1]) * g[o1];
}

}  // namespace

void embed_ln(const DevMat& emb, const int32_t* tokens, int64_t T, const float* w, const float* b, float eps, float* h,
              Stream s) {
  if (T <= 0) return;
  embed_ln_kernel<<<static_cast<unsigned>(T), 256, 0, s>>>(emb.data, static_cast<const __half*>(emb.scales),
                                                           static_cast<int>(emb.type), emb.cols, tokens, w, b, eps, h);
  ck_launch("embed_ln");
}

void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t T, int64_t C, float eps, Stream s) {
  if (T <= 0) return;
  layer_norm_kernel<<<static_cast<unsigned>(T), 256, 0, s>>>(x, w, b, y, C, eps);
  ck_launch("layer_norm");
}

void ln_shift_mix(const float* h, const float* ln_w, const float* ln_b, float eps, float* x, float* prev,
                  const MixArgs& mix, int64_t T, int64_t C, Stream s) {
  if (T <= 0) return;
  // enough threads that kRowPer values each cover the row (C ≤ 16384)
  const int64_t threads = std::max<int64_t>(256, (C + kRowPer * 32 - 1) / (kRowPer * 32) * 32);
  if (threads > 1024) fail(RWKVX_ERR_UNSUPPORTED, "ln_shift_mix: width %lld is above 16384", (long long)C);
  ln_shift_mix_kernel<<<static_cast<unsigned>(T), static_cast<unsigned>(threads), 0, s>>>(h, ln_w, ln_b, eps, x, prev,
                                                                                          mix, C, T == 1 ? 1 : 0);
  ck_launch("ln_shift_mix");
  // With several rows, block 0 reads the old prev: the new one is copied after.
  if (T > 1) dev_copy(prev, x + (T - 1) * C, static_cast<size_t>(C) * 4, s);
}

void tmix_gates(const GateArgs& g, int64_t T, int64_t H, Stream s) {
  if (T <= 0) return;
  tmix_gates_kernel<<<static_cast<unsigned>(cdiv(T * H * 32, 256)), 256, 0, s>>>(g, T, H);
  ck_launch("tmix_gates");
}

void tmix_out(float* y, const float* r, const float* k, const float* v, const float* g, const float* lnx_w,
              const float* lnx_b, const float* r_k, float eps, int64_t T, int64_t H, Stream s) {
  if (T <= 0) return;
  tmix_out_kernel<<<static_cast<unsigned>(cdiv(T * H * 32, 256)), 256, 0, s>>>(y, r, k, v, g, lnx_w, lnx_b, r_k, eps,
                                                                              T, H);
  ck_launch("tmix_out");
}

}  // namespace cuda
}  // namespace rwkvx
