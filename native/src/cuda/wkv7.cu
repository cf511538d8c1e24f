// WKV-7 recurrence per head (N = 64), state S [value i][key j] fp32:
//   sa = S a;  S = S diag(w) + sa bᵀ + v kᵀ;  y = S r
//
// wkv7_seq: exact and sequential in time. One block per head, one thread per
// value row holding its 64 state entries in registers; inputs of 16 steps are
// staged in shared memory at a time.
//
// wkv7_chunked: the same function over chunks of L = 32 tokens. With
// γ_t = Π_{τ≤t} w_τ, ã_t = a_t γ_{t-1}, r̃_t = r_t γ_t, b̄_s = b_s / γ_s,
// k̄_s = k_s / γ_s, B̂_s = b_s γ_L / γ_s, K̂_s = k_s γ_L / γ_s, and strictly /
// non-strictly lower L×L matrices A_ab = ã b̄ᵀ, A_ak = ã k̄ᵀ, A_qb = r̃ b̄ᵀ,
// A_qk = r̃ k̄ᵀ, the rows u_t = S_{t-1} a_t are u = U + W S₀ᵀ where
// (I - A_ab) W = Ã and (I - A_ab) U = A_ak V (forward substitution). Then
//   S_L = S₀ G + D,  G = diag(γ_L) + Wᵀ B̂,  D = Uᵀ B̂ + Vᵀ K̂
//   y_t = S₀ q_t + y0_t,  Q = R̃ + A_qb W,  Y0 = A_qk V + A_qb U.
// Phase 1 computes G, D, Q, Y0 for every chunk in parallel; phase 2 runs
// S ← S G + D over the chunks (rows of S are independent: 4 blocks per head),
// keeping each chunk's S₀; phase 3 forms the outputs in parallel. Everything is
// fp32; |log w| ≤ 0.61 keeps 1/γ below 3e8 over 32 tokens.
#include <mutex>

#include "common.cuh"

namespace rwkvx {
namespace cuda {

namespace {

constexpr int N = 64;
constexpr int TS = 16;  // steps staged per round in wkv_seq

__global__ void __launch_bounds__(64) wkv_seq_kernel(int64_t T, int64_t H, const float* __restrict__ r,
                                                     const float* __restrict__ w, const float* __restrict__ k,
                                                     const float* __restrict__ v, const float* __restrict__ a,
                                                     const float* __restrict__ b, float* __restrict__ S,
                                                     float* __restrict__ y) {
  __shared__ float buf[TS][5][N];
  const int64_t h = blockIdx.x, C = H * N;
  const int i = threadIdx.x;
  float s[N];
  float* Sh = S + (h * N + i) * N;
#pragma unroll
  for (int j = 0; j < N; j += 4) {
    const float4 q = *reinterpret_cast<const float4*>(Sh + j);
    s[j] = q.x; s[j + 1] = q.y; s[j + 2] = q.z; s[j + 3] = q.w;
  }
  for (int64_t t0 = 0; t0 < T; t0 += TS) {
    const int n = T - t0 < TS ? static_cast<int>(T - t0) : TS;
    __syncthreads();
    for (int tt = 0; tt < n; ++tt) {
      const int64_t o = (t0 + tt) * C + h * N + i;
      buf[tt][0][i] = r[o];
      buf[tt][1][i] = w[o];
      buf[tt][2][i] = k[o];
      buf[tt][3][i] = a[o];
      buf[tt][4][i] = b[o];
    }
    __syncthreads();
    for (int tt = 0; tt < n; ++tt) {
      const int64_t o = (t0 + tt) * C + h * N + i;
      const float vi = v[o];
      const float* rr = buf[tt][0];
      const float* ww = buf[tt][1];
      const float* kk = buf[tt][2];
      const float* aa = buf[tt][3];
      const float* bb = buf[tt][4];
      float p0 = 0.f, p1 = 0.f, p2 = 0.f, p3 = 0.f;
#pragma unroll
      for (int j = 0; j < N; j += 4) {
        p0 += s[j] * aa[j];
        p1 += s[j + 1] * aa[j + 1];
        p2 += s[j + 2] * aa[j + 2];
        p3 += s[j + 3] * aa[j + 3];
      }
      const float sa = (p0 + p1) + (p2 + p3);
      float y0 = 0.f, y1 = 0.f;
#pragma unroll
      for (int j = 0; j < N; j += 2) {
        s[j] = s[j] * ww[j] + sa * bb[j] + vi * kk[j];
        s[j + 1] = s[j + 1] * ww[j + 1] + sa * bb[j + 1] + vi * kk[j + 1];
        y0 += s[j] * rr[j];
        y1 += s[j + 1] * rr[j + 1];
      }
      y[o] = y0 + y1;
    }
  }
#pragma unroll
  for (int j = 0; j < N; j += 4) *reinterpret_cast<float4*>(Sh + j) = make_float4(s[j], s[j + 1], s[j + 2], s[j + 3]);
}

// ----------------------------------------------------------------- chunked
constexpr int L = kWkvChunk;
constexpr int LD = N + 1;  // padded row stride of [L][N] tiles in shared memory
constexpr int kPerChunkHead = 3 * N * N + 2 * L * N;  // G, D, S0, Q, Y0 floats
constexpr int kP1Floats = 9 * L * LD + 4 * L * L;
constexpr int kP1Smem = kP1Floats * 4;

struct Ws {
  float* base;
  int64_t H;
  __device__ float* at(int64_t c, int64_t h) const { return base + (c * H + h) * kPerChunkHead; }
  __device__ static float* G(float* p) { return p; }
  __device__ static float* D(float* p) { return p + N * N; }
  __device__ static float* S0(float* p) { return p + 2 * N * N; }
  __device__ static float* Q(float* p) { return p + 3 * N * N; }
  __device__ static float* Y0(float* p) { return p + 3 * N * N + L * N; }
};

__global__ void __launch_bounds__(256) wkv_chunk_phase1(int64_t T, int64_t H, const float* __restrict__ r,
                                                        const float* __restrict__ w, const float* __restrict__ k,
                                                        const float* __restrict__ v, const float* __restrict__ a,
                                                        const float* __restrict__ b, Ws ws) {
  extern __shared__ float sm[];
  float* Rt = sm;             // r̃
  float* Wm = Rt + L * LD;    // ã, then W
  float* Bb = Wm + L * LD;    // b̄
  float* Kb = Bb + L * LD;    // k̄
  float* Bh = Kb + L * LD;    // B̂
  float* Kh = Bh + L * LD;    // K̂
  float* Vs = Kh + L * LD;    // v
  float* Um = Vs + L * LD;    // A_ak V, then U
  float* lg = Um + L * LD;    // log w, then its inclusive cumulative sum
  float* Aab = lg + L * LD;
  float* Aak = Aab + L * L;
  float* Aqb = Aak + L * L;
  float* Aqk = Aqb + L * L;
  const int64_t c = blockIdx.x, h = blockIdx.y, C = H * N;
  const int tid = threadIdx.x;

  for (int e = tid; e < L * N; e += 256) {
    const int t = e / N, j = e % N;
    const int64_t gt = c * L + t;
    float rr = 0.f, ww = 1.f, kk = 0.f, vv = 0.f, aa = 0.f, bb = 0.f;
    if (gt < T) {  // padding rows change nothing: w = 1 and zero vectors
      const int64_t o = gt * C + h * N + j;
      rr = r[o]; ww = w[o]; kk = k[o]; vv = v[o]; aa = a[o]; bb = b[o];
    }
    lg[t * LD + j] = logf(ww);
    Rt[t * LD + j] = rr;
    Wm[t * LD + j] = aa;
    Bb[t * LD + j] = bb;
    Kb[t * LD + j] = kk;
    Vs[t * LD + j] = vv;
  }
  __syncthreads();
  if (tid < N) {
    float run = 0.f;
    for (int t = 0; t < L; ++t) {
      run += lg[t * LD + tid];
      lg[t * LD + tid] = run;
    }
  }
  __syncthreads();
  for (int e = tid; e < L * N; e += 256) {
    const int t = e / N, j = e % N, o = t * LD + j;
    const float l = lg[o], lp = t > 0 ? lg[o - LD] : 0.f, lL = lg[(L - 1) * LD + j];
    const float bb = Bb[o], kk = Kb[o];
    Rt[o] *= expf(l);
    Wm[o] *= expf(lp);
    Bh[o] = bb * expf(lL - l);
    Kh[o] = kk * expf(lL - l);
    const float inv = expf(-l);
    Bb[o] = bb * inv;
    Kb[o] = kk * inv;
  }
  __syncthreads();
  for (int e = tid; e < 4 * L * L; e += 256) {
    const int which = e / (L * L), t = (e % (L * L)) / L, s = e % L;
    const bool strict = which < 2;
    const float* x = (which < 2 ? Wm : Rt) + t * LD;
    const float* z = ((which & 1) == 0 ? Bb : Kb) + s * LD;
    float acc = 0.f;
    if (s < t || (!strict && s == t)) {
#pragma unroll 16
      for (int j = 0; j < N; ++j) acc += x[j] * z[j];
    }
    float* A = which == 0 ? Aab : which == 1 ? Aak : which == 2 ? Aqb : Aqk;
    A[t * L + s] = acc;
  }
  __syncthreads();
  for (int e = tid; e < L * N; e += 256) {  // A_ak V
    const int t = e / N, i = e % N;
    float acc = 0.f;
    for (int s = 0; s < t; ++s) acc += Aak[t * L + s] * Vs[s * LD + i];
    Um[t * LD + i] = acc;
  }
  __syncthreads();
  if (tid < 2 * N) {  // (I - A_ab) X = X₀ by forward substitution, one column per thread
    float* X = tid < N ? Wm : Um;
    const int col = tid % N;
    for (int t = 1; t < L; ++t) {
      float acc = X[t * LD + col];
      for (int s = 0; s < t; ++s) acc += Aab[t * L + s] * X[s * LD + col];
      X[t * LD + col] = acc;
    }
  }
  __syncthreads();
  float* out = ws.at(c, h);
  float* G = Ws::G(out);
  float* D = Ws::D(out);
  for (int e = tid; e < N * N; e += 256) {
    const int j = e / N, jj = e % N;
    float g = j == jj ? expf(lg[(L - 1) * LD + j]) : 0.f, d = 0.f;
    for (int t = 0; t < L; ++t) {
      const float bh = Bh[t * LD + jj];
      g += Wm[t * LD + j] * bh;
      d += Um[t * LD + j] * bh + Vs[t * LD + j] * Kh[t * LD + jj];
    }
    G[e] = g;
    D[e] = d;  // D[i = j][jj]
  }
  float* Q = Ws::Q(out);
  float* Y0 = Ws::Y0(out);
  for (int e = tid; e < L * N; e += 256) {
    const int t = e / N, j = e % N;
    float q = Rt[t * LD + j], y0 = 0.f;
    for (int s = 0; s <= t; ++s) {
      const float qb = Aqb[t * L + s];
      q += qb * Wm[s * LD + j];
      y0 += Aqk[t * L + s] * Vs[s * LD + j] + qb * Um[s * LD + j];
    }
    Q[e] = q;
    Y0[e] = y0;
  }
}

constexpr int kRowsP2 = 16;

__global__ void __launch_bounds__(256) wkv_chunk_phase2(int64_t n_chunks, int64_t H, float* __restrict__ S, Ws ws) {
  __shared__ float Ss[kRowsP2][N + 1];
  __shared__ __align__(16) float Gs[N][N];
  const int64_t h = blockIdx.x;
  const int r0 = blockIdx.y * kRowsP2, tid = threadIdx.x;
  const int i = tid / 16, j0 = (tid % 16) * 4;
  float* Sh = S + h * N * N;
  float cur[4];
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    cur[q] = Sh[(r0 + i) * N + j0 + q];
    Ss[i][j0 + q] = cur[q];
  }
  // G and D of the next chunk are fetched into registers while this one computes.
  float4 gn[4];
  float dn[4];
  auto fetch = [&](int64_t c) {
    const float* p = ws.at(c, h);
#pragma unroll
    for (int q = 0; q < 4; ++q) gn[q] = *reinterpret_cast<const float4*>(Ws::G(const_cast<float*>(p)) + (q * 256 + tid) * 4);
#pragma unroll
    for (int q = 0; q < 4; ++q) dn[q] = Ws::D(const_cast<float*>(p))[(r0 + i) * N + j0 + q];
  };
  if (n_chunks > 0) fetch(0);
  for (int64_t c = 0; c < n_chunks; ++c) {
    float* S0 = Ws::S0(ws.at(c, h));
#pragma unroll
    for (int q = 0; q < 4; ++q) S0[(r0 + i) * N + j0 + q] = cur[q];
#pragma unroll
    for (int q = 0; q < 4; ++q) *reinterpret_cast<float4*>(&Gs[0][0] + (q * 256 + tid) * 4) = gn[q];
    float nw[4];
#pragma unroll
    for (int q = 0; q < 4; ++q) nw[q] = dn[q];
    __syncthreads();
    if (c + 1 < n_chunks) fetch(c + 1);
#pragma unroll 8
    for (int j = 0; j < N; ++j) {
      const float sj = Ss[i][j];
      const float4 g = *reinterpret_cast<const float4*>(&Gs[j][j0]);
      nw[0] += sj * g.x;
      nw[1] += sj * g.y;
      nw[2] += sj * g.z;
      nw[3] += sj * g.w;
    }
    __syncthreads();
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      cur[q] = nw[q];
      Ss[i][j0 + q] = nw[q];
    }
    __syncthreads();
  }
#pragma unroll
  for (int q = 0; q < 4; ++q) Sh[(r0 + i) * N + j0 + q] = cur[q];
}

__global__ void __launch_bounds__(256) wkv_chunk_phase3(int64_t T, int64_t H, float* __restrict__ y, Ws ws) {
  __shared__ float Ss[N][N + 1];
  __shared__ float Qs[L][N];
  const int64_t c = blockIdx.x, h = blockIdx.y, C = H * N;
  const int tid = threadIdx.x;
  float* p = ws.at(c, h);
  const float* S0 = Ws::S0(p);
  const float* Q = Ws::Q(p);
  const float* Y0 = Ws::Y0(p);
  for (int e = tid; e < N * N; e += 256) Ss[e / N][e % N] = S0[e];
  for (int e = tid; e < L * N; e += 256) Qs[e / N][e % N] = Q[e];
  __syncthreads();
  for (int e = tid; e < L * N; e += 256) {
    const int t = e / N, i = e % N;
    const int64_t gt = c * L + t;
    if (gt >= T) continue;
    float acc = Y0[e];
#pragma unroll 16
    for (int j = 0; j < N; ++j) acc += Qs[t][j] * Ss[i][j];
    y[gt * C + h * N + i] = acc;
  }
}

// One decode step (T = 1) of a whole time-mix core per head: the gates of
// tmix_gates, the recurrence, and tmix_out's GroupNorm, bonus and gate, so a
// decode step launches one kernel here instead of three.
__device__ __forceinline__ float head_sum(float v, float* red) {  // 64 threads
  v = warp_sum(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  return red[0] + red[1];
}

__global__ void __launch_bounds__(64) wkv_decode_fused_kernel(const DecodeCoreArgs g, float* __restrict__ S,
                                                              float* __restrict__ y, int64_t H) {
  __shared__ float sr[N], sw[N], sk[N], sa[N], sb[N];
  __shared__ float red[2];
  const int64_t h = blockIdx.x;
  const int i = threadIdx.x;
  const int64_t c = h * N + i;
  // gates (as tmix_gates)
  const float w = expf(-0.606531f / (1.f + expf(-(g.wl[c] + g.w0[c]))));
  const float av = 1.f / (1.f + expf(-(g.al[c] + g.a0[c])));
  float v = g.v[c];
  if (g.first_layer) {
    g.vfirst[c] = v;
  } else {
    const float m = 1.f / (1.f + expf(-(g.vl[c] + g.v0[c])));
    v += (g.vfirst[c] - v) * m;
  }
  const float k = g.k[c];
  float kk = k * g.k_k[c];
  const float ss = head_sum(kk * kk, red);
  kk *= 1.f / fmaxf(sqrtf(ss), 1e-12f);
  const float km = k * (1.f + (av - 1.f) * g.k_a[c]);
  const float r = g.r[c];
  sr[i] = r; sw[i] = w; sk[i] = km; sa[i] = -kk; sb[i] = kk * av;
  __syncthreads();
  // the recurrence for value row i
  float st[N];
  float* Sh = S + (h * N + i) * N;
#pragma unroll
  for (int j = 0; j < N; j += 4) {
    const float4 q = *reinterpret_cast<const float4*>(Sh + j);
    st[j] = q.x; st[j + 1] = q.y; st[j + 2] = q.z; st[j + 3] = q.w;
  }
  float p0 = 0.f, p1 = 0.f, p2 = 0.f, p3 = 0.f;
#pragma unroll
  for (int j = 0; j < N; j += 4) {
    p0 += st[j] * sa[j]; p1 += st[j + 1] * sa[j + 1]; p2 += st[j + 2] * sa[j + 2]; p3 += st[j + 3] * sa[j + 3];
  }
  const float sav = (p0 + p1) + (p2 + p3);
  float y0 = 0.f, y1 = 0.f;
#pragma unroll
  for (int j = 0; j < N; j += 2) {
    st[j] = st[j] * sw[j] + sav * sb[j] + v * sk[j];
    st[j + 1] = st[j + 1] * sw[j + 1] + sav * sb[j + 1] + v * sk[j + 1];
    y0 += st[j] * sr[j];
    y1 += st[j + 1] * sr[j + 1];
  }
#pragma unroll
  for (int j = 0; j < N; j += 4) *reinterpret_cast<float4*>(Sh + j) = make_float4(st[j], st[j + 1], st[j + 2], st[j + 3]);
  // GroupNorm over the head, bonus, gate (as tmix_out)
  const float yv = y0 + y1;
  const float mean = head_sum(yv, red) / 64.f;
  const float d = yv - mean;
  const float var = head_sum(d * d, red) / 64.f;
  const float bonus = head_sum(r * km * g.r_k[c], red);
  y[c] = (d * (1.f / sqrtf(var + g.eps)) * g.lnx_w[c] + g.lnx_b[c] + bonus * v) * g.g[c];
}

}  // namespace

void wkv7_seq(int64_t T, int64_t H, const float* r, const float* w, const float* k, const float* v, const float* a,
              const float* b, float* S, float* y, Stream s) {
  if (T <= 0) return;
  wkv_seq_kernel<<<static_cast<unsigned>(H), N, 0, s>>>(T, H, r, w, k, v, a, b, S, y);
  ck_launch("wkv7_seq");
}

void wkv7_decode_fused(const DecodeCoreArgs& a, int64_t H, float* S, float* y, Stream s) {
  wkv_decode_fused_kernel<<<static_cast<unsigned>(H), N, 0, s>>>(a, S, y, H);
  ck_launch("wkv7_decode_fused");
}

size_t wkv7_chunked_workspace(int64_t T, int64_t H) {
  return static_cast<size_t>(cdiv(T, L) * H) * kPerChunkHead * sizeof(float);
}

void wkv7_chunked(int64_t T, int64_t H, const float* r, const float* w, const float* k, const float* v, const float* a,
                  const float* b, float* S, float* y, void* workspace, Stream s) {
  if (T <= 0) return;
  int dev = 0;
  ck(cudaGetDevice(&dev), "wkv7_chunked");
  static std::mutex mu;
  static bool prepared[64] = {};
  {
    std::lock_guard<std::mutex> lock(mu);
    if (dev < 64 && !prepared[dev]) {
      ck(cudaFuncSetAttribute(wkv_chunk_phase1, cudaFuncAttributeMaxDynamicSharedMemorySize, kP1Smem),
         "wkv7_chunked shared memory");
      prepared[dev] = true;
    }
  }
  const int64_t nch = cdiv(T, L);
  const Ws ws{static_cast<float*>(workspace), H};
  wkv_chunk_phase1<<<dim3(static_cast<unsigned>(nch), static_cast<unsigned>(H)), 256, kP1Smem, s>>>(T, H, r, w, k, v,
                                                                                                    a, b, ws);
  ck_launch("wkv7_chunked phase 1");
  wkv_chunk_phase2<<<dim3(static_cast<unsigned>(H), N / kRowsP2), 256, 0, s>>>(nch, H, S, ws);
  ck_launch("wkv7_chunked phase 2");
  wkv_chunk_phase3<<<dim3(static_cast<unsigned>(nch), static_cast<unsigned>(H)), 256, 0, s>>>(T, H, y, ws);
  ck_launch("wkv7_chunked phase 3");
}

}  // namespace cuda
}  // namespace rwkvx
