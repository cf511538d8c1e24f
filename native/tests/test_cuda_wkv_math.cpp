// The algebra of the CUDA chunked WKV-7 kernel (src/cuda/wkv7.cu), restated
// on the CPU step by step as the kernel's three phases compute it, checked
// against the exact sequential recurrence. Runs everywhere (no GPU needed), so
// CI checks the formulas; the GPU tests check the kernel against the same
// reference.
#include <cmath>
#include <random>
#include <vector>

#include "kernels.h"
#include "ops.h"
#include "testing.h"

using namespace rwkvx;

namespace {

constexpr int N = 64;

struct Inputs {
  std::vector<float> r, w, k, v, a, b, S;
};

// Inputs shaped like the model's: w in (0.545, 1), a = -kk with kk unit per
// head, b = kk * gate with gate in (0, 1).
Inputs make_inputs(int64_t T, int64_t H, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::uniform_real_distribution<float> ud(0.f, 1.f);
  const int64_t C = H * N;
  Inputs in;
  for (auto* x : {&in.r, &in.w, &in.k, &in.v, &in.a, &in.b}) x->resize(static_cast<size_t>(T * C));
  in.S.resize(static_cast<size_t>(H * N * N));
  for (auto& x : in.S) x = 0.3f * nd(rng);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) {
      float kk[N], ss = 0.f;
      for (int j = 0; j < N; ++j) { kk[j] = nd(rng); ss += kk[j] * kk[j]; }
      for (int j = 0; j < N; ++j) {
        const size_t o = static_cast<size_t>(t * C + h * N + j);
        const float z = kk[j] / std::sqrt(ss), gate = ud(rng);
        in.r[o] = 0.5f * nd(rng);
        in.k[o] = 0.5f * nd(rng);
        in.v[o] = nd(rng);
        in.w[o] = std::exp(-0.606531f / (1.f + std::exp(-2.f * nd(rng))));
        in.a[o] = -z;
        in.b[o] = z * gate;
      }
    }
  return in;
}

// Phase 1 for one (chunk, head): G, D (N×N), Q, Y0 (L×N), as in wkv_chunk_phase1.
void phase1(int64_t T, int64_t H, int64_t c, int64_t h, int L, const Inputs& in, std::vector<float>& G,
            std::vector<float>& D, std::vector<float>& Q, std::vector<float>& Y0) {
  const int64_t C = H * N;
  std::vector<float> R(L * N), W(L * N), Bb(L * N), Kb(L * N), Bh(L * N), Kh(L * N), V(L * N), U(L * N), lg(L * N);
  std::vector<float> Aab(L * L), Aak(L * L), Aqb(L * L), Aqk(L * L);
  for (int t = 0; t < L; ++t)
    for (int j = 0; j < N; ++j) {
      const int64_t gt = c * L + t;
      float rr = 0, ww = 1, kk = 0, vv = 0, aa = 0, bb = 0;
      if (gt < T) {
        const size_t o = static_cast<size_t>(gt * C + h * N + j);
        rr = in.r[o]; ww = in.w[o]; kk = in.k[o]; vv = in.v[o]; aa = in.a[o]; bb = in.b[o];
      }
      lg[t * N + j] = std::log(ww);
      R[t * N + j] = rr; W[t * N + j] = aa; Bb[t * N + j] = bb; Kb[t * N + j] = kk; V[t * N + j] = vv;
    }
  for (int j = 0; j < N; ++j) {
    float run = 0;
    for (int t = 0; t < L; ++t) { run += lg[t * N + j]; lg[t * N + j] = run; }
  }
  for (int t = 0; t < L; ++t)
    for (int j = 0; j < N; ++j) {
      const int o = t * N + j;
      const float l = lg[o], lp = t > 0 ? lg[o - N] : 0.f, lL = lg[(L - 1) * N + j];
      const float bb = Bb[o], kk = Kb[o];
      R[o] *= std::exp(l);
      W[o] *= std::exp(lp);
      Bh[o] = bb * std::exp(lL - l);
      Kh[o] = kk * std::exp(lL - l);
      Bb[o] = bb * std::exp(-l);
      Kb[o] = kk * std::exp(-l);
    }
  for (int which = 0; which < 4; ++which)
    for (int t = 0; t < L; ++t)
      for (int s = 0; s < L; ++s) {
        const float* x = (which < 2 ? W.data() : R.data()) + t * N;
        const float* z = ((which & 1) == 0 ? Bb.data() : Kb.data()) + s * N;
        float acc = 0;
        if (s < t || (which >= 2 && s == t))
          for (int j = 0; j < N; ++j) acc += x[j] * z[j];
        (which == 0 ? Aab : which == 1 ? Aak : which == 2 ? Aqb : Aqk)[t * L + s] = acc;
      }
  for (int t = 0; t < L; ++t)
    for (int i = 0; i < N; ++i) {
      float acc = 0;
      for (int s = 0; s < t; ++s) acc += Aak[t * L + s] * V[s * N + i];
      U[t * N + i] = acc;
    }
  for (std::vector<float>* X : {&W, &U})
    for (int col = 0; col < N; ++col)
      for (int t = 1; t < L; ++t) {
        float acc = (*X)[t * N + col];
        for (int s = 0; s < t; ++s) acc += Aab[t * L + s] * (*X)[s * N + col];
        (*X)[t * N + col] = acc;
      }
  G.assign(N * N, 0.f);
  D.assign(N * N, 0.f);
  for (int j = 0; j < N; ++j)
    for (int jj = 0; jj < N; ++jj) {
      float g = j == jj ? std::exp(lg[(L - 1) * N + j]) : 0.f, d = 0;
      for (int t = 0; t < L; ++t) {
        g += W[t * N + j] * Bh[t * N + jj];
        d += U[t * N + j] * Bh[t * N + jj] + V[t * N + j] * Kh[t * N + jj];
      }
      G[j * N + jj] = g;
      D[j * N + jj] = d;
    }
  Q.assign(L * N, 0.f);
  Y0.assign(L * N, 0.f);
  for (int t = 0; t < L; ++t)
    for (int j = 0; j < N; ++j) {
      float q = R[t * N + j], y0 = 0;
      for (int s = 0; s <= t; ++s) {
        q += Aqb[t * L + s] * W[s * N + j];
        y0 += Aqk[t * L + s] * V[s * N + j] + Aqb[t * L + s] * U[s * N + j];
      }
      Q[t * N + j] = q;
      Y0[t * N + j] = y0;
    }
}

// Phases 2 and 3: S ← S G + D per chunk, y_t = S₀ q_t + y0_t.
void chunked(int64_t T, int64_t H, int L, const Inputs& in, std::vector<float>& S, std::vector<float>& y) {
  const int64_t C = H * N, nch = (T + L - 1) / L;
  y.assign(static_cast<size_t>(T * C), 0.f);
  std::vector<float> G, D, Q, Y0, Sn(N * N);
  for (int64_t h = 0; h < H; ++h) {
    float* Sh = S.data() + h * N * N;
    for (int64_t c = 0; c < nch; ++c) {
      phase1(T, H, c, h, L, in, G, D, Q, Y0);
      for (int t = 0; t < L && c * L + t < T; ++t)
        for (int i = 0; i < N; ++i) {
          float acc = Y0[t * N + i];
          for (int j = 0; j < N; ++j) acc += Q[t * N + j] * Sh[i * N + j];
          y[static_cast<size_t>((c * L + t) * C + h * N + i)] = acc;
        }
      for (int i = 0; i < N; ++i)
        for (int jj = 0; jj < N; ++jj) {
          float acc = D[i * N + jj];
          for (int j = 0; j < N; ++j) acc += Sh[i * N + j] * G[j * N + jj];
          Sn[i * N + jj] = acc;
        }
      std::copy(Sn.begin(), Sn.end(), Sh);
    }
  }
}

}  // namespace

TEST(chunked_wkv_algebra_equals_sequential) {
  ThreadPool pool(1);
  const OpContext ctx{&scalar_kernels(), &pool};
  for (int L : {16, 32}) {
    for (int64_t T : {1, 5, 31, 32, 33, 100, 257}) {
      const int64_t H = 2;
      const Inputs in = make_inputs(T, H, static_cast<uint32_t>(T * 7 + L));
      std::vector<float> S_ref = in.S, y_ref(static_cast<size_t>(T * H * N));
      wkv7_seq(ctx, T, H, N, in.r.data(), in.w.data(), in.k.data(), in.v.data(), in.a.data(), in.b.data(), S_ref.data(),
               y_ref.data());
      std::vector<float> S = in.S, y;
      chunked(T, H, L, in, S, y);
      const double ey = testing::rel_err(y.data(), y_ref.data(), y.size());
      const double es = testing::rel_err(S.data(), S_ref.data(), S.size());
      if (T == 257) std::printf("  L %d T %lld: y error %.2g, state error %.2g\n", L, (long long)T, ey, es);
      CHECK_MSG(ey < 2e-5 && es < 2e-5, "L %d T %lld: y error %g, state error %g", L, (long long)T, ey, es);
    }
  }
}

TEST_MAIN
