// Every op and every SIMD level against plain double-precision restatements
// of the definitions, on fresh random inputs at several sizes.
#include <cmath>
#include <random>
#include <vector>

#include "half.h"
#include "kernels.h"
#include "kv_store.h"
#include "ops.h"
#include "quant.h"
#include "testing.h"

using namespace rwkvx;

namespace {

std::mt19937 rng(1234);

std::vector<float> randn(size_t n, float scale = 1.f) {
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<const KernelSet*> levels() {
  std::vector<const KernelSet*> out;
  for (const char* l : {"scalar", "avx2", "avx512"})
    if (const KernelSet* k = kernels_for(l)) out.push_back(k);
  return out;
}

// A matrix of `rows` × `cols` stored in type t, with its exact fp32 values.
struct Mat {
  std::vector<uint8_t> bytes;
  std::vector<float> values;
  TensorView view;
};

Mat make_mat(DType t, int64_t rows, int64_t cols) {
  Mat m;
  std::vector<float> src = randn(static_cast<size_t>(rows * cols), 0.5f);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<uint8_t> row = encode_row(t, src.data() + r * cols, cols);
    m.bytes.insert(m.bytes.end(), row.begin(), row.end());
  }
  m.values.resize(src.size());
  m.view.type = t;
  m.view.n_dims = 2;
  m.view.ne[0] = cols;
  m.view.ne[1] = rows;
  m.view.data = m.bytes.data();
  m.view.nbytes = m.bytes.size();
  for (int64_t r = 0; r < rows; ++r) dequantize_row(t, m.view.row(r), m.values.data() + r * cols, cols);
  return m;
}

}  // namespace

TEST(fp16_round_trip_all_values) {
  int bad = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    if (f32_to_fp16(f) != h) ++bad;
  }
  CHECK_MSG(bad == 0, "%d fp16 values do not round trip", bad);
}

TEST(fp16_rounding_nearest_even) {
  // Compare with rounding done in double on the fp16 grid.
  std::uniform_real_distribution<double> u(-8, 8);
  int bad = 0;
  for (int i = 0; i < 200000; ++i) {
    // |f| < 2^15 stays inside fp16's finite range; exponents reach the subnormals.
    const float f = static_cast<float>(std::ldexp(u(rng), static_cast<int>(u(rng) * 2.5) - 8));
    const uint16_t h = f32_to_fp16(f);
    const double got = fp16_to_f32(h);
    // neighbours on the fp16 grid must not be closer
    const double up = fp16_to_f32(static_cast<uint16_t>(h + 1)), down = fp16_to_f32(static_cast<uint16_t>(h - 1));
    const double e = std::fabs(got - f);
    if ((!std::isnan(up) && std::fabs(up - f) < e) || (!std::isnan(down) && std::fabs(down - f) < e)) ++bad;
  }
  CHECK_MSG(bad == 0, "%d values not rounded to nearest", bad);
}

TEST(bf16_rounding) {
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  CHECK(bf16_to_f32(f32_to_bf16(3.140625f)) == 3.140625f);
  // halfway cases round to even
  CHECK(f32_to_bf16(f32_from_bits(0x3f808000u)) == 0x3f80);
  CHECK(f32_to_bf16(f32_from_bits(0x3f818000u)) == 0x3f82);
}

TEST(dot_kernels_every_level_and_type) {
  for (const KernelSet* k : levels())
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0})
      for (int64_t n : {32, 64, 96, 768, 1056}) {
        Mat m = make_mat(t, 1, n);
        std::vector<float> x = randn(static_cast<size_t>(n));
        double ref = 0;
        for (int64_t i = 0; i < n; ++i) ref += static_cast<double>(x[i]) * m.values[i];
        const float got = dot_row(*k, t, m.view.row(0), x.data(), n);
        CHECK_MSG(std::fabs(got - ref) <= 1e-4 * (1 + std::fabs(ref)) + 1e-5 * n, "%s %s n=%lld got %g ref %g", k->name,
                  dtype_name(t), (long long)n, got, ref);
      }
}

TEST(gemm_every_level) {
  for (const KernelSet* k : levels())
    for (int64_t T : {1, 3, 4, 7, 13})
      for (int64_t R : {1, 5, 6, 12, 17})
        for (int64_t n : {8, 37, 64, 200}) {
          std::vector<float> X = randn(static_cast<size_t>(T * n)), W = randn(static_cast<size_t>(R * n));
          std::vector<float> Y(static_cast<size_t>(T * R), NAN), ref(static_cast<size_t>(T * R));
          k->gemm_f32(X.data(), n, W.data(), n, Y.data(), R, T, R, n);
          for (int64_t t = 0; t < T; ++t)
            for (int64_t r = 0; r < R; ++r) {
              double s = 0;
              for (int64_t i = 0; i < n; ++i) s += static_cast<double>(X[t * n + i]) * W[r * n + i];
              ref[t * R + r] = static_cast<float>(s);
            }
          const double e = testing::rel_err(Y.data(), ref.data(), Y.size());
          CHECK_MSG(e < 1e-5, "%s T=%lld R=%lld n=%lld err %g", k->name, (long long)T, (long long)R, (long long)n, e);
        }
}

TEST(linear_small_and_blocked_paths_agree) {
  ThreadPool pool(2);
  for (const KernelSet* k : levels()) {
    OpContext ctx{k, &pool};
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0})
      for (int64_t T : {1, 2, 5, 64}) {
        const int64_t in = 128, out = 100;
        Mat m = make_mat(t, out, in);
        std::vector<float> X = randn(static_cast<size_t>(T * in));
        std::vector<float> Y(static_cast<size_t>(T * out), NAN), ref(Y.size());
        linear(ctx, m.view, X.data(), T, Y.data());
        for (int64_t tt = 0; tt < T; ++tt)
          for (int64_t r = 0; r < out; ++r) {
            double s = 0;
            for (int64_t i = 0; i < in; ++i) s += static_cast<double>(X[tt * in + i]) * m.values[r * in + i];
            ref[tt * out + r] = static_cast<float>(s);
          }
        CHECK_MSG(testing::rel_err(Y.data(), ref.data(), Y.size()) < 1e-5, "%s %s T=%lld", k->name, dtype_name(t), (long long)T);
        // accumulate adds onto what is there
        std::vector<float> acc(Y.size(), 1.f);
        linear(ctx, m.view, X.data(), T, acc.data(), true);
        for (auto& v : ref) v += 1.f;
        CHECK(testing::rel_err(acc.data(), ref.data(), acc.size()) < 1e-5);
      }
  }
}

TEST(layer_norm_and_group_norm) {
  const int64_t T = 3, C = 128, G = 64;
  std::vector<float> w = randn(C), b = randn(C);
  // Independent check: recompute with doubles from a fresh copy.
  std::vector<float> x2 = randn(static_cast<size_t>(T * C), 3.f), out(x2.size()), ref(x2.size());
  layer_norm(x2.data(), w.data(), b.data(), out.data(), T, C, 1e-5f);
  for (int64_t t = 0; t < T; ++t) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < C; ++i) m += x2[t * C + i];
    m /= C;
    for (int64_t i = 0; i < C; ++i) v += (x2[t * C + i] - m) * (x2[t * C + i] - m);
    v /= C;
    for (int64_t i = 0; i < C; ++i) ref[t * C + i] = static_cast<float>((x2[t * C + i] - m) / std::sqrt(v + 1e-5) * w[i] + b[i]);
  }
  CHECK(testing::rel_err(out.data(), ref.data(), out.size()) < 1e-5);
  group_norm(x2.data(), w.data(), b.data(), out.data(), T, C, G, 64e-5f);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t g0 = 0; g0 < C; g0 += G) {
      double m = 0, v = 0;
      for (int64_t i = 0; i < G; ++i) m += x2[t * C + g0 + i];
      m /= G;
      for (int64_t i = 0; i < G; ++i) v += (x2[t * C + g0 + i] - m) * (x2[t * C + g0 + i] - m);
      v /= G;
      for (int64_t i = 0; i < G; ++i)
        ref[t * C + g0 + i] = static_cast<float>((x2[t * C + g0 + i] - m) / std::sqrt(v + 64e-5) * w[g0 + i] + b[g0 + i]);
    }
  CHECK(testing::rel_err(out.data(), ref.data(), out.size()) < 1e-5);
}

TEST(to_f32_every_level_and_type) {
  for (const KernelSet* k : levels())
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0})
      for (int64_t n : {32, 96, 800}) {
        Mat m = make_mat(t, 1, n);
        std::vector<float> out(static_cast<size_t>(n), NAN);
        k->to_f32(t, m.view.row(0), out.data(), n);
        CHECK_MSG(testing::rel_err(out.data(), m.values.data(), out.size()) == 0, "%s %s n=%lld", k->name, dtype_name(t), (long long)n);
      }
}

TEST(attention_row_kernels_every_level) {
  for (const KernelSet* k : levels())
    for (DType t : {DType::F32, DType::F16})
      for (int64_t N : {32, 64}) {
        const int64_t rows = 37, stride_elems = 3 * N;  // rows inside a wider row, as in the KV pages
        Mat m = make_mat(t, rows, stride_elems);
        const size_t stride = dtype_row_bytes(t, stride_elems);
        const uint8_t* base = m.view.row(0) + dtype_row_bytes(t, N);  // the second head's slice
        std::vector<float> q = randn(static_cast<size_t>(N)), p = randn(static_cast<size_t>(rows));
        p[3] = 0.f;
        std::vector<float> dots(static_cast<size_t>(rows), NAN), acc = randn(static_cast<size_t>(N));
        std::vector<float> want_dots(dots.size()), want_acc = acc;
        for (int64_t s = 0; s < rows; ++s) {
          double d = 0;
          for (int64_t i = 0; i < N; ++i) {
            const float x = m.values[static_cast<size_t>(s * stride_elems + N + i)];
            d += static_cast<double>(q[i]) * x;
            want_acc[i] += p[s] * x;
          }
          want_dots[s] = static_cast<float>(d);
        }
        k->rows_dot(t, base, stride, rows, q.data(), N, dots.data());
        k->rows_axpy(t, base, stride, rows, p.data(), N, acc.data());
        CHECK_MSG(testing::rel_err(dots.data(), want_dots.data(), dots.size()) < 1e-5, "%s %s dot", k->name, dtype_name(t));
        CHECK_MSG(testing::rel_err(acc.data(), want_acc.data(), acc.size()) < 1e-5, "%s %s axpy", k->name, dtype_name(t));
      }
}

TEST(wkv7_matches_definition) {
  for (const KernelSet* level : levels()) {
  ThreadPool pool(2);
  OpContext ctx{level, &pool};
  const int64_t T = 9, H = 3, N = 64, C = H * N;
  std::uniform_real_distribution<float> dec(0.55f, 1.f);
  std::vector<float> r = randn(T * C), k = randn(T * C, 0.3f), v = randn(T * C), a = randn(T * C, 0.2f), b = randn(T * C, 0.2f);
  std::vector<float> w(static_cast<size_t>(T * C));
  for (auto& x : w) x = dec(rng);
  std::vector<float> S = randn(static_cast<size_t>(H * N * N), 0.1f), y(static_cast<size_t>(T * C), NAN);
  std::vector<double> Sd(S.begin(), S.end());
  std::vector<float> yref(y.size());
  std::vector<float> S0 = S;
  wkv7_seq(ctx, T, H, N, r.data(), w.data(), k.data(), v.data(), a.data(), b.data(), S.data(), y.data());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) {
      double* s = Sd.data() + h * N * N;
      const int64_t o = t * C + h * N;
      std::vector<double> sa(N, 0.0);
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < N; ++j) sa[i] += s[i * N + j] * a[o + j];
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < N; ++j) s[i * N + j] = s[i * N + j] * w[o + j] + sa[i] * b[o + j] + static_cast<double>(v[o + i]) * k[o + j];
      for (int64_t i = 0; i < N; ++i) {
        double acc = 0;
        for (int64_t j = 0; j < N; ++j) acc += s[i * N + j] * r[o + j];
        yref[o + i] = static_cast<float>(acc);
      }
    }
  std::vector<float> Sref(Sd.begin(), Sd.end());
  CHECK(testing::rel_err(y.data(), yref.data(), y.size()) < 1e-5);
  CHECK(testing::rel_err(S.data(), Sref.data(), S.size()) < 1e-5);
  // Splitting the sequence in two gives the same result (state carries over).
  std::vector<float> S2 = S0, y2(y.size(), NAN);
  const int64_t T1 = 4;
  wkv7_seq(ctx, T1, H, N, r.data(), w.data(), k.data(), v.data(), a.data(), b.data(), S2.data(), y2.data());
  wkv7_seq(ctx, T - T1, H, N, r.data() + T1 * C, w.data() + T1 * C, k.data() + T1 * C, v.data() + T1 * C,
           a.data() + T1 * C, b.data() + T1 * C, S2.data(), y2.data() + T1 * C);
  CHECK(testing::rel_err(y2.data(), y.data(), y.size()) == 0);
  CHECK(testing::rel_err(S2.data(), S.data(), S.size()) == 0);
  }
}

namespace {

// Dense restatement of the MoBA pattern in double: per head, the own chunk
// causally plus the top-(k-1) earlier chunks by q · mean(keys).
std::vector<float> moba_reference(const std::vector<float>& q, const std::vector<float>& K, const std::vector<float>& V,
                                  int64_t T, int64_t pos0, int64_t H, int64_t N, int64_t B, int64_t topk) {
  const int64_t C = H * N;
  std::vector<float> out(static_cast<size_t>(T * C));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t pos = pos0 + t, c = pos / B;
      std::vector<int64_t> keys;
      std::vector<std::pair<double, int64_t>> sc;
      for (int64_t j = 0; j < c; ++j) {
        double s = 0;
        for (int64_t d = 0; d < N; ++d) {
          double m = 0;
          for (int64_t p = j * B; p < (j + 1) * B; ++p) m += K[p * C + h * N + d];
          s += q[t * C + h * N + d] * (m / B);
        }
        sc.push_back({s, j});
      }
      std::sort(sc.begin(), sc.end(), [](auto& x, auto& y) { return x.first > y.first || (x.first == y.first && x.second < y.second); });
      for (int64_t i = 0; i < std::min<int64_t>(topk - 1, c); ++i)
        for (int64_t p = sc[i].second * B; p < (sc[i].second + 1) * B; ++p) keys.push_back(p);
      for (int64_t p = c * B; p <= pos; ++p) keys.push_back(p);
      std::vector<double> lg;
      double mx = -1e300;
      for (int64_t p : keys) {
        double s = 0;
        for (int64_t d = 0; d < N; ++d) s += static_cast<double>(q[t * C + h * N + d]) * K[p * C + h * N + d];
        s /= std::sqrt(static_cast<double>(N));
        lg.push_back(s);
        mx = std::max(mx, s);
      }
      double z = 0;
      for (auto& l : lg) z += (l = std::exp(l - mx));
      for (int64_t d = 0; d < N; ++d) {
        double acc = 0;
        for (size_t i = 0; i < keys.size(); ++i) acc += lg[i] * V[keys[i] * C + h * N + d];
        out[t * C + h * N + d] = static_cast<float>(acc / z);
      }
    }
  return out;
}

}  // namespace

TEST(moba_attention_matches_dense_restatement) {
  ThreadPool pool(2);
  OpContext ctx{&kernels(), &pool};
  const int64_t H = 2, N = 64, C = H * N, B = 8, topk = 3, total = 61;
  std::vector<float> K = randn(static_cast<size_t>(total * C)), V = randn(static_cast<size_t>(total * C));
  // Make chunk means distinct so the choice is not a near tie.
  for (int64_t p = 0; p < total; ++p)
    for (int64_t i = 0; i < C; ++i) K[p * C + i] += 0.3f * static_cast<float>((p / B) % 5) * ((i % 3) - 1);
  for (KvType kt : {KvType::F32, KvType::F16}) {
    KvStore kv(C, B, kt);
    std::vector<float> Ks = K, Vs = V;
    if (kt == KvType::F16)
      for (auto* arr : {&Ks, &Vs})
        for (auto& x : *arr) x = fp16_to_f32(f32_to_fp16(x));
    // Feed in uneven pieces, query each piece as it arrives (as prefill does).
    int64_t pos = 0;
    for (int64_t piece : {5, 1, 17, 30, 8}) {
      kv.append(K.data() + pos * C, V.data() + pos * C, piece);
      std::vector<float> q = randn(static_cast<size_t>(piece * C)), out(static_cast<size_t>(piece * C), NAN);
      const MobaParams mp{H, N, B, topk, 1.f / 8.f};
      moba_attention(ctx, mp, kv, q.data(), piece, pos, out.data());
      const std::vector<float> ref = moba_reference(q, Ks, Vs, piece, pos, H, N, B, topk);
      const double e = testing::rel_err(out.data(), ref.data(), out.size());
      CHECK_MSG(e < 1e-5, "kv %d piece at %lld err %g", static_cast<int>(kt), (long long)pos, e);
      pos += piece;
    }
  }
}

TEST(kv_store_fork_is_copy_on_write_and_truncate_keeps_sums) {
  const int64_t C = 4, B = 3;
  KvStore a(C, B, KvType::F32);
  std::vector<float> k = randn(20 * C), v = randn(20 * C);
  a.append(k.data(), v.data(), 7);
  KvStore b = a.fork();
  a.append(k.data() + 7 * C, v.data() + 7 * C, 3);
  b.append(v.data(), k.data(), 2);  // different content in the shared partial page
  std::vector<float> row(C);
  a.key(7, row.data());
  CHECK(row[0] == k[7 * C]);
  b.key(7, row.data());
  CHECK(row[0] == v[0]);
  a.key(2, row.data());
  CHECK(row[1] == k[2 * C + 1]);
  // Sum of a page matches its keys after truncation into it.
  a.truncate(5);
  CHECK(a.size() == 5);
  const float* s = a.key_sum(1);
  for (int64_t i = 0; i < C; ++i) CHECK(std::fabs(s[i] - (k[3 * C + i] + k[4 * C + i])) < 1e-6);
  b.truncate(0);
  CHECK(b.size() == 0 && b.n_pages() == 0);
  a.key(4, row.data());
  CHECK(row[2] == k[4 * C + 2]);
}

TEST_MAIN
