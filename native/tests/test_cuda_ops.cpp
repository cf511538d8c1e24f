// Every CUDA op against its CPU op (ops.h, kv_store.h, executor_cpu.cpp), by
// normalized error on fresh random inputs at several sizes. Outputs are
// poisoned with NaN first, so an unwritten element fails. Skips (exit 77)
// without a GPU.
#include <cmath>
#include <cstring>
#include <memory>

#include "half.h"
#include "kernels.h"
#include "kv_store.h"
#include "ops.h"
#include "quant.h"
#include "test_cuda_common.h"

#if RWKVX_CUDA
using namespace rwkvx;
using namespace cudatest;
namespace cu = rwkvx::cuda;

namespace {

ThreadPool& pool() {
  static ThreadPool p(4);
  return p;
}
OpContext cpu() { return OpContext{&kernels(), &pool()}; }

double err(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return INFINITY;
  return testing::rel_err(got.data(), want.data(), got.size());
}

// A matrix rows × cols in type t: the bytes, a view of them, its device copy.
struct Mat {
  std::vector<uint8_t> bytes;
  TensorView view;
  cu::DevMat dev;
  Mat(DType t, int64_t rows, int64_t cols, float scale = 0.5f) {
    const std::vector<float> src = randn(static_cast<size_t>(rows * cols), scale);
    for (int64_t r = 0; r < rows; ++r) {
      const std::vector<uint8_t> row = encode_row(t, src.data() + r * cols, cols);
      bytes.insert(bytes.end(), row.begin(), row.end());
    }
    view.type = t;
    view.n_dims = 2;
    view.ne[0] = cols;
    view.ne[1] = rows;
    view.data = bytes.data();
    view.nbytes = bytes.size();
    dev = cu::upload_matrix(view, "test matrix");
  }
  ~Mat() { cu::free_matrix(dev); }
};

float act_ref(float x, int act) {
  switch (act) {
    case cu::kActTanh: return std::tanh(x);
    case cu::kActSigmoid: return 1.f / (1.f + std::exp(-x));
    case cu::kActRelu2: { const float z = std::max(x, 0.f); return z * z; }
  }
  return x;
}

void check_linear(DType t, int64_t T, int64_t in, int64_t out, cu::LinearPath path, double tol) {
  // Weights scaled so products are about unit size, where tanh is not flat:
  // larger ones saturate and the normalized error of tanh's output would
  // measure the error of the few products near zero against outputs of ±1.
  Mat W(t, out, in, static_cast<float>(1.0 / std::sqrt(static_cast<double>(in))));
  const std::vector<float> X = randn(static_cast<size_t>(T * in));
  std::vector<float> want(static_cast<size_t>(T * out));
  linear(cpu(), W.view, X.data(), T, want.data());
  Buf dX(X), dY(want.size() * 4);
  for (int act : {cu::kActNone, cu::kActTanh, cu::kActSigmoid, cu::kActRelu2}) {
    dY.poison();
    const cu::LinearJob j{&W.dev, dX.f(), dY.f(), act, false};
    cu::linear(&j, 1, T, nullptr, path);
    std::vector<float> ref = want;
    for (auto& x : ref) x = act_ref(x, act);
    const double e = err(dY.down(), ref);
    CHECK_MSG(e < tol, "%s T %lld %lldx%lld path %d act %d: error %g", dtype_name(t), (long long)T, (long long)in,
              (long long)out, static_cast<int>(path), act, e);
  }
  // accumulate: Y += X Wᵀ
  const std::vector<float> base = randn(want.size());
  dY.up(base);
  const cu::LinearJob j{&W.dev, dX.f(), dY.f(), cu::kActNone, true};
  cu::linear(&j, 1, T, nullptr, path);
  std::vector<float> ref(want.size());
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = base[i] + want[i];
  const double e = err(dY.down(), ref);
  CHECK_MSG(e < tol, "%s T %lld accumulate: error %g", dtype_name(t), (long long)T, e);
}

}  // namespace

TEST(gemv_equals_cpu_linear_every_type) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0})
    for (int64_t T : {1, 2, 3, 5, 8})
      for (auto shape : {std::pair<int64_t, int64_t>{128, 64}, {768, 2304}, {2560, 512}, {3072, 768}})
        check_linear(t, T, shape.first, shape.second, cu::LinearPath::Gemv, 2e-5);
  // widths that are not a multiple of 8 take the element-wise loop
  for (DType t : {DType::F32, DType::F16, DType::BF16}) check_linear(t, 3, 20, 33, cu::LinearPath::Gemv, 2e-5);
}

TEST(gemm_equals_cpu_linear_within_half_precision) {
  // The own kernel (cuBLAS, the default where found, is checked below):
  // fp16 operands (bf16 for BF16 weights), fp32 accumulation.
  cu::set_cublas_gemm(false);
  for (DType t : {DType::F16, DType::F32, DType::Q8_0, DType::BF16}) {
    const double tol = t == DType::BF16 ? 1.5e-2 : 3e-3;
    for (int64_t T : {9, 64, 130, 300})
      for (auto shape : {std::pair<int64_t, int64_t>{768, 768}, {768, 3072}, {3072, 768}, {128, 704}, {64, 768},
                         {256, 96}})
        check_linear(t, T, shape.first, shape.second, cu::LinearPath::Gemm, tol);
  }
  // K = 16 is a partial tile (the tiny models' value LoRA)
  check_linear(DType::F32, 40, 16, 128, cu::LinearPath::Gemm, 3e-3);
  // K = 20 is no multiple of 8: the GEMM path falls back to GEMV (fp32)
  check_linear(DType::F32, 40, 20, 128, cu::LinearPath::Gemm, 2e-5);
}

TEST(cublas_path_equals_cpu_linear_where_available) {
  if (!cu::set_cublas_gemm(true)) {
    std::printf("  cuBLAS not available: skipped\n");
    return;
  }
  for (DType t : {DType::F16, DType::BF16})
    for (int64_t T : {9, 300})
      check_linear(t, T, 768, 3072, cu::LinearPath::Gemm, t == DType::BF16 ? 1.5e-2 : 3e-3);
}

TEST(batched_gemv_jobs_are_independent) {
  Mat a(DType::F16, 256, 128), b(DType::Q8_0, 64, 256), c(DType::F32, 32, 128);
  const std::vector<float> xa = randn(128), xb = randn(256), xc = randn(128);
  std::vector<float> ya(256), yb(64), yc(32);
  linear(cpu(), a.view, xa.data(), 1, ya.data());
  linear(cpu(), b.view, xb.data(), 1, yb.data());
  linear(cpu(), c.view, xc.data(), 1, yc.data());
  for (auto& x : yc) x = 1.f / (1.f + std::exp(-x));
  Buf dxa(xa), dxb(xb), dxc(xc), dya(256 * 4), dyb(64 * 4), dyc(32 * 4);
  dya.poison(); dyb.poison(); dyc.poison();
  const cu::LinearJob jobs[3] = {{&a.dev, dxa.f(), dya.f(), cu::kActNone, false},
                                 {&b.dev, dxb.f(), dyb.f(), cu::kActNone, false},
                                 {&c.dev, dxc.f(), dyc.f(), cu::kActSigmoid, false}};
  cu::linear(jobs, 3, 1, nullptr);
  CHECK(err(dya.down(), ya) < 2e-5);
  CHECK(err(dyb.down(), yb) < 2e-5);
  CHECK(err(dyc.down(), yc) < 2e-5);
}

TEST(layer_norm_equals_cpu) {
  for (int64_t T : {1, 5, 33})
    for (int64_t C : {64, 768, 2560}) {
      const std::vector<float> x = randn(static_cast<size_t>(T * C), 3.f), w = randn(C), b = randn(C);
      std::vector<float> want(x.size());
      layer_norm(x.data(), w.data(), b.data(), want.data(), T, C, 1e-5f);
      Buf dx(x), dw(w), db(b), dy(x.size() * 4);
      dy.poison();
      cu::layer_norm(dx.f(), dw.f(), db.f(), dy.f(), T, C, 1e-5f, nullptr);
      CHECK_MSG(err(dy.down(), want) < 1e-5, "T %lld C %lld", (long long)T, (long long)C);
      cu::layer_norm(dx.f(), dw.f(), db.f(), dx.f(), T, C, 1e-5f, nullptr);  // in place
      CHECK(err(dx.down(), want) < 1e-5);
    }
}

TEST(ln_shift_mix_equals_cpu) {
  for (int64_t T : {1, 2, 7})
    for (int64_t C : {128, 768, 2560, 5000}) {
      const int n = T == 2 ? 1 : 6;
      const std::vector<float> h = randn(static_cast<size_t>(T * C), 2.f), w = randn(C), b = randn(C), prev0 = randn(C);
      std::vector<std::vector<float>> mu(6);
      for (auto& m : mu) m = uniform(C, 0.f, 1.f);
      std::vector<float> x(h.size());
      layer_norm(h.data(), w.data(), b.data(), x.data(), T, C, 1e-5f);
      std::vector<std::vector<float>> want(6, std::vector<float>(h.size()));
      for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < C; ++i) {
          const float before = t == 0 ? prev0[i] : x[(t - 1) * C + i];
          const float xx = before - x[t * C + i];
          for (int j = 0; j < n; ++j) want[j][t * C + i] = x[t * C + i] + xx * mu[j][i];
        }
      const std::vector<float> prev_want(x.end() - C, x.end());
      Buf dh(h), dw(w), db(b), dprev(prev0), dx(h.size() * 4);
      std::vector<std::unique_ptr<Buf>> dmu, dout;
      cu::MixArgs mix{};
      mix.n = n;
      for (int j = 0; j < n; ++j) {
        dmu.push_back(std::make_unique<Buf>(mu[j]));
        dout.push_back(std::make_unique<Buf>(h.size() * 4));
        dout.back()->poison();
        mix.mu[j] = dmu.back()->f();
        mix.out[j] = dout.back()->f();
      }
      cu::ln_shift_mix(dh.f(), dw.f(), db.f(), 1e-5f, dx.f(), dprev.f(), mix, T, C, nullptr);
      CHECK(err(dx.down(), x) < 1e-5);
      CHECK_MSG(err(dprev.down(), prev_want) < 1e-5, "prev T %lld", (long long)T);
      for (int j = 0; j < n; ++j) CHECK_MSG(err(dout[j]->down(), want[j]) < 1e-5, "mix %d T %lld", j, (long long)T);
    }
}

TEST(embed_ln_equals_cpu_every_type) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0}) {
    const int64_t V = 100, C = 256, T = 9;
    Mat emb(t, V, C);
    std::vector<int32_t> toks(T);
    for (auto& x : toks) x = static_cast<int32_t>(rng()() % V);
    const std::vector<float> w = randn(C), b = randn(C);
    std::vector<float> want(static_cast<size_t>(T * C));
    for (int64_t i = 0; i < T; ++i) dequantize_row(t, emb.view.row(toks[i]), want.data() + i * C, C);
    layer_norm(want.data(), w.data(), b.data(), want.data(), T, C, 1e-5f);
    Buf dt(toks), dw(w), db(b), dh(want.size() * 4);
    dh.poison();
    cu::embed_ln(emb.dev, static_cast<const int32_t*>(dt.p), T, dw.f(), db.f(), 1e-5f, dh.f(), nullptr);
    CHECK_MSG(err(dh.down(), want) < 1e-5, "%s", dtype_name(t));
  }
}

TEST(tmix_gates_equal_cpu) {
  for (bool first : {true, false})
    for (int64_t T : {1, 13}) {
      const int64_t H = 3, C = H * 64, n = T * C;
      const auto wl = randn(n), al = randn(n), vl = randn(n), w0 = randn(C), a0 = randn(C), v0 = randn(C),
                 k_k = uniform(C, 0.5f, 1.f), k_a = uniform(C, 0.5f, 1.5f), k = randn(n), v = randn(n),
                 vfirst = randn(n);
      // CPU restatement of executor_cpu.cpp time_mix between projections and recurrence
      std::vector<float> ww(n), aa(n), vv = v, vf = vfirst, kk(n), km = k, ain(n), bb(n);
      for (int64_t i = 0; i < n; ++i) {
        ww[i] = std::exp(-0.606531f / (1.f + std::exp(-(wl[i] + w0[i % C]))));
        aa[i] = 1.f / (1.f + std::exp(-(al[i] + a0[i % C])));
        if (first) vf[i] = v[i];
        else vv[i] += (vfirst[i] - v[i]) * (1.f / (1.f + std::exp(-(vl[i] + v0[i % C]))));
      }
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < H; ++h) {
          const int64_t o = t * C + h * 64;
          float ss = 0;
          for (int j = 0; j < 64; ++j) { kk[o + j] = k[o + j] * k_k[h * 64 + j]; ss += kk[o + j] * kk[o + j]; }
          const float inv = 1.f / std::max(std::sqrt(ss), 1e-12f);
          for (int j = 0; j < 64; ++j) {
            kk[o + j] *= inv;
            km[o + j] *= 1.f + (aa[o + j] - 1.f) * k_a[h * 64 + j];
            ain[o + j] = -kk[o + j];
            bb[o + j] = kk[o + j] * aa[o + j];
          }
        }
      Buf dwl(wl), dal(al), dvl(vl), dw0(w0), da0(a0), dv0(v0), dkk(k_k), dka(k_a), dk(k), dv(v), dvf(vfirst),
          dw(n * 4), dain(n * 4), db(n * 4);
      dw.poison(); dain.poison(); db.poison();
      cu::GateArgs g{};
      g.wl = dwl.f(); g.al = dal.f(); g.vl = first ? nullptr : dvl.f();
      g.w0 = dw0.f(); g.a0 = da0.f(); g.v0 = dv0.f(); g.k_k = dkk.f(); g.k_a = dka.f();
      g.k = dk.f(); g.v = dv.f(); g.vfirst = dvf.f(); g.w = dw.f(); g.a_in = dain.f(); g.b = db.f();
      g.first_layer = first;
      cu::tmix_gates(g, T, H, nullptr);
      CHECK(err(dw.down(), ww) < 1e-5);
      CHECK(err(dk.down(), km) < 1e-5);
      CHECK(err(dv.down(), vv) < 1e-5);
      CHECK(err(dvf.down(), vf) < 1e-5);
      CHECK(err(dain.down(), ain) < 1e-5);
      CHECK(err(db.down(), bb) < 1e-5);
    }
}

TEST(tmix_out_equals_cpu) {
  for (int64_t T : {1, 6}) {
    const int64_t H = 4, C = H * 64, n = T * C;
    const auto y = randn(n, 2.f), r = randn(n), k = randn(n), v = randn(n), g = randn(n), lw = randn(C), lb = randn(C),
               rk = randn(C);
    std::vector<float> want(n);
    group_norm(y.data(), lw.data(), lb.data(), want.data(), T, C, 64, 64e-5f);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t o = t * C + h * 64;
        float s = 0;
        for (int j = 0; j < 64; ++j) s += r[o + j] * k[o + j] * rk[h * 64 + j];
        for (int j = 0; j < 64; ++j) want[o + j] = (want[o + j] + s * v[o + j]) * g[o + j];
      }
    Buf dy(y), dr(r), dk(k), dv(v), dg(g), dlw(lw), dlb(lb), drk(rk);
    cu::tmix_out(dy.f(), dr.f(), dk.f(), dv.f(), dg.f(), dlw.f(), dlb.f(), drk.f(), 64e-5f, T, H, nullptr);
    CHECK_MSG(err(dy.down(), want) < 1e-5, "T %lld", (long long)T);
  }
}

namespace {

struct WkvIn {
  std::vector<float> r, w, k, v, a, b, S;
};

WkvIn wkv_inputs(int64_t T, int64_t H) {
  const int64_t C = H * 64, n = T * C;
  WkvIn in;
  in.r = randn(n, 0.5f);
  in.k = randn(n, 0.5f);
  in.v = randn(n);
  in.S = randn(static_cast<size_t>(H * 64 * 64), 0.3f);
  in.w.resize(n);
  in.a.resize(n);
  in.b.resize(n);
  const auto d = randn(n, 2.f), kk = randn(n), gate = uniform(n, 0.f, 1.f);
  for (int64_t i = 0; i < n; ++i) in.w[i] = std::exp(-0.606531f / (1.f + std::exp(-d[i])));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t o = t * C + h * 64;
      float ss = 0;
      for (int j = 0; j < 64; ++j) ss += kk[o + j] * kk[o + j];
      for (int j = 0; j < 64; ++j) {
        const float z = kk[o + j] / std::sqrt(ss);
        in.a[o + j] = -z;
        in.b[o + j] = z * gate[o + j];
      }
    }
  return in;
}

void check_wkv(int64_t T, int64_t H, bool chunked, double tol) {
  const WkvIn in = wkv_inputs(T, H);
  std::vector<float> S = in.S, y(in.r.size());
  wkv7_seq(OpContext{&scalar_kernels(), &pool()}, T, H, 64, in.r.data(), in.w.data(), in.k.data(), in.v.data(),
           in.a.data(), in.b.data(), S.data(), y.data());
  Buf dr(in.r), dw(in.w), dk(in.k), dv(in.v), da(in.a), db(in.b), dS(in.S), dy(y.size() * 4);
  dy.poison();
  if (chunked) {
    Buf ws(cu::wkv7_chunked_workspace(T, H));
    cu::wkv7_chunked(T, H, dr.f(), dw.f(), dk.f(), dv.f(), da.f(), db.f(), dS.f(), dy.f(), ws.p, nullptr);
    cu::stream_sync(nullptr);
  } else {
    cu::wkv7_seq(T, H, dr.f(), dw.f(), dk.f(), dv.f(), da.f(), db.f(), dS.f(), dy.f(), nullptr);
  }
  const double ey = err(dy.down(), y), es = err(dS.down(), S);
  CHECK_MSG(ey < tol && es < tol, "%s T %lld H %lld: y error %g, state error %g", chunked ? "chunked" : "seq",
            (long long)T, (long long)H, ey, es);
}

}  // namespace

TEST(decode_fused_core_equals_separate_kernels) {
  for (bool first : {true, false}) {
    const int64_t H = 5, C = H * 64;
    const auto r = randn(C), k = randn(C), v = randn(C), g = randn(C), wl = randn(C), al = randn(C), vl = randn(C),
               w0 = randn(C), a0 = randn(C), v0 = randn(C), k_k = uniform(C, 0.5f, 1.f), k_a = uniform(C, 0.5f, 1.5f),
               r_k = randn(C), lw = randn(C), lb = randn(C), vfirst = randn(C), S0 = randn(static_cast<size_t>(H * 64 * 64), 0.3f);
    Buf dr(r), dk(k), dv(v), dg(g), dwl(wl), dal(al), dvl(vl), dw0(w0), da0(a0), dv0(v0), dkk(k_k), dka(k_a), drk(r_k),
        dlw(lw), dlb(lb), dvf(vfirst), dS(S0), dy(C * 4), dw(C * 4), dain(C * 4), db(C * 4);
    // separate kernels (k, v modified in place)
    cu::GateArgs ga{};
    ga.wl = dwl.f(); ga.al = dal.f(); ga.vl = first ? nullptr : dvl.f();
    ga.w0 = dw0.f(); ga.a0 = da0.f(); ga.v0 = dv0.f(); ga.k_k = dkk.f(); ga.k_a = dka.f();
    ga.k = dk.f(); ga.v = dv.f(); ga.vfirst = dvf.f(); ga.w = dw.f(); ga.a_in = dain.f(); ga.b = db.f();
    ga.first_layer = first;
    cu::tmix_gates(ga, 1, H, nullptr);
    cu::wkv7_seq(1, H, dr.f(), dw.f(), dk.f(), dv.f(), dain.f(), db.f(), dS.f(), dy.f(), nullptr);
    cu::tmix_out(dy.f(), dr.f(), dk.f(), dv.f(), dg.f(), dlw.f(), dlb.f(), drk.f(), 64e-5f, 1, H, nullptr);
    const auto y_ref = dy.down(), S_ref = dS.down(), vf_ref = dvf.down();
    // fused, from the original inputs
    Buf fk(k), fv(v), fvf(vfirst), fS(S0), fy(C * 4);
    fy.poison();
    cu::DecodeCoreArgs a{};
    a.r = dr.f(); a.k = fk.f(); a.v = fv.f(); a.g = dg.f(); a.wl = dwl.f(); a.al = dal.f(); a.vl = first ? nullptr : dvl.f();
    a.w0 = dw0.f(); a.a0 = da0.f(); a.v0 = dv0.f(); a.k_k = dkk.f(); a.k_a = dka.f(); a.r_k = drk.f();
    a.lnx_w = dlw.f(); a.lnx_b = dlb.f(); a.vfirst = fvf.f(); a.eps = 64e-5f; a.first_layer = first;
    cu::wkv7_decode_fused(a, H, fS.f(), fy.f(), nullptr);
    CHECK_MSG(err(fy.down(), y_ref) < 1e-5, "first %d y", first);
    CHECK(err(fS.down(), S_ref) < 1e-5);
    CHECK(err(fvf.down(), vf_ref) < 1e-6);
  }
}

TEST(wkv7_seq_equals_cpu) {
  for (int64_t T : {1, 2, 17, 100})
    for (int64_t H : {1, 3, 12}) check_wkv(T, H, false, 2e-5);
}

TEST(wkv7_chunked_equals_cpu_sequential) {
  for (int64_t T : {1, 31, 32, 33, 100, 257, 1000})
    for (int64_t H : {2, 12}) check_wkv(T, H, true, 5e-5);
}

TEST(wkv7_chunked_equals_gpu_sequential) {
  const int64_t T = 2048, H = 8;
  const WkvIn in = wkv_inputs(T, H);
  Buf dr(in.r), dw(in.w), dk(in.k), dv(in.v), da(in.a), db(in.b), S1(in.S), S2(in.S), y1(in.r.size() * 4),
      y2(in.r.size() * 4), ws(cu::wkv7_chunked_workspace(T, H));
  cu::wkv7_seq(T, H, dr.f(), dw.f(), dk.f(), dv.f(), da.f(), db.f(), S1.f(), y1.f(), nullptr);
  cu::wkv7_chunked(T, H, dr.f(), dw.f(), dk.f(), dv.f(), da.f(), db.f(), S2.f(), y2.f(), ws.p, nullptr);
  const double ey = err(y2.down(), y1.down()), es = err(S2.down(), S1.down());
  CHECK_MSG(ey < 5e-5 && es < 5e-5, "y error %g, state error %g", ey, es);
}

namespace {

// A GPU KV cache of one block built like the executor's: pages and a table.
struct DevKv {
  int64_t chunk, width;
  bool f16;
  std::vector<std::unique_ptr<Buf>> pages;
  Buf table{4096 * sizeof(void*)};
  Buf pos{8};
  DevKv(int64_t c, int64_t w, bool h) : chunk(c), width(w), f16(h) {}
  cu::KvView view() const { return cu::KvView{static_cast<void* const*>(table.p), chunk, width, f16}; }
  void append(const std::vector<float>& k, const std::vector<float>& v, int64_t T, int64_t pos0) {
    const int64_t need = (pos0 + T + chunk - 1) / chunk;
    while (static_cast<int64_t>(pages.size()) < need) {
      pages.push_back(std::make_unique<Buf>(cu::kv_page_bytes(chunk, width, f16)));
      pages.back()->poison();
      const size_t sum_off = 2 * static_cast<size_t>(chunk) * width * (f16 ? 2 : 4);
      cu::dev_fill(static_cast<uint8_t*>(pages.back()->p) + sum_off, 0, static_cast<size_t>(width) * 4, nullptr);
    }
    std::vector<void*> ptrs;
    for (auto& p : pages) ptrs.push_back(p->p);
    cu::to_device(table.p, ptrs.data(), ptrs.size() * sizeof(void*));
    pos.up(std::vector<int64_t>{pos0});
    Buf dk(k), dv(v);
    cu::kv_append(view(), dk.f(), dv.f(), T, static_cast<const int64_t*>(pos.p), pos0, nullptr);
    cu::stream_sync(nullptr);
  }
  std::vector<float> ksum(int64_t page) const {
    const size_t sum_off = 2 * static_cast<size_t>(chunk) * width * (f16 ? 2 : 4);
    std::vector<float> h(static_cast<size_t>(width));
    cu::to_host(h.data(), static_cast<uint8_t*>(pages[static_cast<size_t>(page)]->p) + sum_off, h.size() * 4);
    return h;
  }
};

}  // namespace

TEST(kv_append_and_key_sums_equal_cpu_store) {
  for (bool f16 : {false, true}) {
    const int64_t B = 16, W = 128;
    KvStore cpu_kv(W, B, f16 ? KvType::F16 : KvType::F32);
    DevKv gpu(B, W, f16);
    int64_t pos = 0;
    for (int64_t T : {5, 1, 40, 1, 17}) {
      const auto k = randn(static_cast<size_t>(T * W)), v = randn(static_cast<size_t>(T * W));
      cpu_kv.append(k.data(), v.data(), T);
      gpu.append(k, v, T, pos);
      pos += T;
    }
    for (int64_t p = 0; p < cpu_kv.n_pages(); ++p) {
      const std::vector<float> want(cpu_kv.key_sum(p), cpu_kv.key_sum(p) + W);
      CHECK_MSG(err(gpu.ksum(p), want) < 1e-6, "f16 %d page %lld", f16, (long long)p);
    }
    // rows as stored
    const size_t es = f16 ? 2 : 4;
    std::vector<uint8_t> page(cu::kv_page_bytes(B, W, f16));
    int bad = 0;
    for (int64_t r = 0; r < pos; ++r) {
      if (r % B == 0) cu::to_host(page.data(), gpu.pages[static_cast<size_t>(r / B)]->p, page.size());
      if (std::memcmp(page.data() + (r % B) * W * es, cpu_kv.key_row(r), W * es) != 0) ++bad;
      if (std::memcmp(page.data() + (B + r % B) * W * es, cpu_kv.value_row(r), W * es) != 0) ++bad;
    }
    CHECK_MSG(bad == 0, "%d rows differ", bad);
    // truncation recomputes the partial page's sum
    cpu_kv.truncate(37);
    cu::kv_page_resum(gpu.pages[2]->p, 37 - 32, B, W, f16, nullptr);
    cu::stream_sync(nullptr);
    const std::vector<float> want(cpu_kv.key_sum(2), cpu_kv.key_sum(2) + W);
    CHECK(err(gpu.ksum(2), want) < 1e-6);
  }
}

TEST(moba_attention_equals_cpu) {
  for (bool f16 : {false, true})
    for (int64_t H : {2, 4}) {
      const int64_t B = 16, C = H * 64, top_k = 3;
      KvStore cpu_kv(C, B, f16 ? KvType::F16 : KvType::F32);
      DevKv gpu(B, C, f16);
      const MobaParams mp{H, 64, B, top_k, 0.125f};
      int64_t pos = 0;
      // a prefill crossing many chunks, single tokens, a chunk that starts mid-page
      for (int64_t T : {100, 1, 1, 37, 1, 300, 64}) {
        const auto k = randn(static_cast<size_t>(T * C)), v = randn(static_cast<size_t>(T * C)),
                   q = randn(static_cast<size_t>(T * C));
        cpu_kv.append(k.data(), v.data(), T);
        gpu.append(k, v, T, pos);
        std::vector<float> want(q.size());
        moba_attention(cpu(), mp, cpu_kv, q.data(), T, pos, want.data());
        Buf dq(q), out(q.size() * 4);
        for (int splits : {1, 7, cu::moba_splits(T, H)}) {
          out.poison();
          Buf ws(cu::moba_workspace(T, H, top_k, splits));
          cu::moba_attention(gpu.view(), dq.f(), T, static_cast<const int64_t*>(gpu.pos.p), H, top_k, 0.125f, out.f(),
                             ws.p, splits, nullptr);
          const double e = err(out.down(), want);
          CHECK_MSG(e < 2e-5, "f16 %d H %lld T %lld at %lld splits %d: error %g", f16, (long long)H, (long long)T,
                    (long long)pos, splits, e);
        }
        if (T >= 64) {  // the grouped prefill path (chunk keys staged once per tile of queries)
          out.poison();
          Buf ws(cu::moba_workspace_max(T, H, top_k));
          cu::moba_attention(gpu.view(), dq.f(), T, static_cast<const int64_t*>(gpu.pos.p), H, top_k, 0.125f, out.f(),
                             ws.p, 1, nullptr, pos);
          const double e = err(out.down(), want);
          CHECK_MSG(e < 2e-5, "grouped: f16 %d H %lld T %lld at %lld: error %g", f16, (long long)H, (long long)T,
                    (long long)pos, e);
        }
        pos += T;
      }
    }
}
#endif

CUDA_TEST_MAIN
