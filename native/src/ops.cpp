#include "ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "half.h"
#include "kv_store.h"
#include "quant.h"

namespace rwkvx {

void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t T, int64_t C, float eps) {
  for (int64_t t = 0; t < T; ++t) {
    const float* xr = x + t * C;
    float* yr = y + t * C;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < C; ++i) mean += xr[i];
    mean /= C;
    for (int64_t i = 0; i < C; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= C;
    const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    for (int64_t i = 0; i < C; ++i) yr[i] = (xr[i] - m) * inv * w[i] + b[i];
  }
}

void group_norm(const float* x, const float* w, const float* b, float* y, int64_t T, int64_t C, int64_t group,
                float eps) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t g0 = 0; g0 < C; g0 += group) {
      const float* xr = x + t * C + g0;
      float* yr = y + t * C + g0;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < group; ++i) mean += xr[i];
      mean /= group;
      for (int64_t i = 0; i < group; ++i) var += (xr[i] - mean) * (xr[i] - mean);
      var /= group;
      const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
      const float m = static_cast<float>(mean);
      for (int64_t i = 0; i < group; ++i) yr[i] = (xr[i] - m) * inv * w[g0 + i] + b[g0 + i];
    }
}

void tanh_inplace(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
}

void sigmoid_inplace(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = 1.f / (1.f + std::exp(-x[i]));
}

namespace {
// Rows of W converted to fp32 per block, so the GEMM kernel streams fp32.
constexpr int64_t kRowBlock = 48;
constexpr int64_t kSmallT = 2;  // up to this many tokens, dot products straight from the stored type
}  // namespace

void linear(const OpContext& ctx, const TensorView& W, const float* X, int64_t T, float* Y, bool accumulate) {
  const int64_t in = W.cols(), out = W.rows();
  const KernelSet& k = *ctx.k;
  if (T <= kSmallT) {
    ctx.pool->parallel_for(out, [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t t = 0; t < T; ++t) {
          const float d = dot_row(k, W.type, W.row(r), X + t * in, in);
          float& dst = Y[t * out + r];
          dst = accumulate ? dst + d : d;
        }
    }, 64);
    return;
  }
  if (k.gemm_packed != nullptr) {
    // Convert and transpose blocks of kPackWidth weight rows into a k-major
    // panel, then run the outer-product kernel over all T tokens.
    const int64_t n_blocks = (out + kPackWidth - 1) / kPackWidth;
    ctx.pool->parallel_for(n_blocks, [&](int64_t b0, int64_t b1, int) {
      thread_local std::vector<float> rows, panel;
      const size_t panel_size = static_cast<size_t>(in * kPackWidth);
      if (rows.size() < panel_size) { rows.resize(panel_size); panel.resize(panel_size); }
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r0 = b * kPackWidth, rn = std::min(kPackWidth, out - r0);
        // Rows converted one after the other, then transposed with sequential
        // writes (48 sequential read streams).
        for (int64_t r = 0; r < rn; ++r) k.to_f32(W.type, W.row(r0 + r), rows.data() + r * in, in);
        for (int64_t i = 0; i < in; ++i) {
          float* dst = panel.data() + i * kPackWidth;
          for (int64_t r = 0; r < rn; ++r) dst[r] = rows[static_cast<size_t>(r * in + i)];
          for (int64_t r = rn; r < kPackWidth; ++r) dst[r] = 0.f;
        }
        k.gemm_packed(X, in, panel.data(), Y + r0, out, T, rn, in, accumulate);
      }
    });
    return;
  }
  const int64_t n_blocks = (out + kRowBlock - 1) / kRowBlock;
  ctx.pool->parallel_for(n_blocks, [&](int64_t b0, int64_t b1, int) {
    // Per-thread scratch kept between calls: fresh large vectors would cost
    // page faults and zeroing on every call.
    thread_local std::vector<float> wf, yb;
    if (wf.size() < static_cast<size_t>(kRowBlock * in)) wf.resize(static_cast<size_t>(kRowBlock * in));
    if (accumulate && yb.size() < static_cast<size_t>(T * kRowBlock)) yb.resize(static_cast<size_t>(T * kRowBlock));
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r0 = b * kRowBlock, rn = std::min(kRowBlock, out - r0);
      for (int64_t r = 0; r < rn; ++r) k.to_f32(W.type, W.row(r0 + r), wf.data() + r * in, in);
      if (!accumulate) {
        k.gemm_f32(X, in, wf.data(), in, Y + r0, out, T, rn, in);
      } else {
        k.gemm_f32(X, in, wf.data(), in, yb.data(), kRowBlock, T, rn, in);
        for (int64_t t = 0; t < T; ++t)
          for (int64_t r = 0; r < rn; ++r) Y[t * out + r0 + r] += yb[t * kRowBlock + r];
      }
    }
  });
}

void wkv7_seq(const OpContext& ctx, int64_t T, int64_t H, int64_t N, const float* r, const float* w, const float* k,
              const float* v, const float* a, const float* b, float* S, float* y) {
  const int64_t C = H * N;
  ctx.pool->parallel_for(H, [&](int64_t h0, int64_t h1, int) {
    for (int64_t h = h0; h < h1; ++h) {
      const int64_t o = h * N;
      ctx.k->wkv7_head(T, N, C, r + o, w + o, k + o, v + o, a + o, b + o, S + h * N * N, y + o);
    }
  });
}

namespace {

// Chunks (other than its own) that query (t, h) attends to, -1 = none.
void select_chunks(const MobaParams& p, const KvStore& kv, const float* q, int64_t pos0, int64_t t, int64_t h,
                   std::vector<std::pair<float, int64_t>>& scores, int32_t* out) {
  const int64_t N = p.head_size, C = p.n_head * N, B = p.chunk, c = (pos0 + t) / B, n_pick = p.top_k - 1;
  for (int64_t i = 0; i < n_pick; ++i) out[i] = -1;
  if (c <= n_pick) {
    for (int64_t j = 0; j < c; ++j) out[j] = static_cast<int32_t>(j);
    return;
  }
  const float* qh = q + t * C + h * N;
  scores.clear();
  for (int64_t j = 0; j < c; ++j) {
    const float* ks = kv.key_sum(j) + h * N;
    float s = 0.f;
    for (int64_t d = 0; d < N; ++d) s += qh[d] * (ks[d] / static_cast<float>(B));
    scores.emplace_back(s, j);
  }
  std::partial_sort(scores.begin(), scores.begin() + n_pick, scores.end(), [](const auto& x, const auto& y) {
    return x.first > y.first || (x.first == y.first && x.second < y.second);
  });
  for (int64_t i = 0; i < n_pick; ++i) out[i] = static_cast<int32_t>(scores[static_cast<size_t>(i)].second);
}

// Head h's keys of positions [from, from + rows) as fp32 rows, and its values
// transposed ([N][rows]) so both products below are dot-product GEMMs.
void load_head(const KernelSet& k, const KvStore& kv, int64_t h, int64_t N, int64_t from, int64_t rows, float* K,
               float* Vt) {
  const DType t = kv.type() == KvType::F16 ? DType::F16 : DType::F32;
  const size_t eb = kv.type() == KvType::F16 ? 2 : 4;
  float v[256];
  for (int64_t s = 0; s < rows; ++s) {
    k.to_f32(t, static_cast<const uint8_t*>(kv.key_row(from + s)) + h * N * eb, K + s * N, N);
    k.to_f32(t, static_cast<const uint8_t*>(kv.value_row(from + s)) + h * N * eb, v, N);
    for (int64_t d = 0; d < N; ++d) Vt[d * rows + s] = v[d];
  }
}

}  // namespace

void moba_attention(const OpContext& ctx, const MobaParams& p, const KvStore& kv, const float* q, int64_t T,
                    int64_t pos0, float* out) {
  const int64_t H = p.n_head, N = p.head_size, C = H * N, B = p.chunk, n_pick = p.top_k - 1;
  const KernelSet& k = *ctx.k;
  const DType kv_dtype = kv.type() == KvType::F16 ? DType::F16 : DType::F32;
  const size_t eb = kv.type() == KvType::F16 ? 2 : 4;
  constexpr int64_t kDirectQueries = 4;
  // 1. Per query and head, the earlier chunks it reads.
  std::vector<int32_t> sel(static_cast<size_t>(T * H * std::max<int64_t>(n_pick, 1)));
  ctx.pool->parallel_for(T * H, [&](int64_t i0, int64_t i1, int) {
    std::vector<std::pair<float, int64_t>> scores;
    for (int64_t i = i0; i < i1; ++i) select_chunks(p, kv, q, pos0, i / H, i % H, scores, sel.data() + i * n_pick);
  });
  // 2. Work items: one head × one run of queries inside the same chunk. Each
  // visits the key chunks its queries need, as matrix products, merging them
  // with an online softmax.
  struct Item { int64_t h, t0, t1; };
  std::vector<Item> items;
  for (int64_t t0 = 0; t0 < T;) {
    const int64_t c = (pos0 + t0) / B;
    const int64_t t1 = std::min(T, (c + 1) * B - pos0);
    for (int64_t h = 0; h < H; ++h) items.push_back({h, t0, t1});
    t0 = t1;
  }
  ctx.pool->parallel_for(static_cast<int64_t>(items.size()), [&](int64_t i0, int64_t i1, int) {
    thread_local std::vector<float> K, Vt, S, Q, tmp, acc, m, l;
    thread_local std::vector<int64_t> who;
    for (int64_t it = i0; it < i1; ++it) {
      const Item& w = items[static_cast<size_t>(it)];
      const int64_t nq = w.t1 - w.t0, c = (pos0 + w.t0) / B, h = w.h;
      acc.assign(static_cast<size_t>(nq * N), 0.f);
      m.assign(static_cast<size_t>(nq), -INFINITY);
      l.assign(static_cast<size_t>(nq), 0.f);
      std::vector<int64_t> chunks{c};
      for (int64_t t = w.t0; t < w.t1; ++t)
        for (int64_t i = 0; i < n_pick; ++i) {
          const int32_t j = sel[static_cast<size_t>((t * H + h) * n_pick + i)];
          if (j >= 0) chunks.push_back(j);
        }
      std::sort(chunks.begin(), chunks.end());
      chunks.erase(std::unique(chunks.begin(), chunks.end()), chunks.end());
      for (int64_t j : chunks) {
        // keys of chunk j this item can see: all of an earlier chunk, the own
        // chunk up to the last query
        const int64_t rows = j == c ? pos0 + w.t1 - c * B : B;
        who.clear();
        for (int64_t t = w.t0; t < w.t1; ++t) {
          bool needs = j == c;
          for (int64_t i = 0; i < n_pick && !needs; ++i) needs = sel[static_cast<size_t>((t * H + h) * n_pick + i)] == j;
          if (needs) who.push_back(t - w.t0);
        }
        if (who.empty()) continue;
        const int64_t ns = static_cast<int64_t>(who.size());
        if (S.size() < static_cast<size_t>(ns * rows)) S.resize(static_cast<size_t>(ns * rows));
        if (Q.size() < static_cast<size_t>(ns * N)) { Q.resize(static_cast<size_t>(ns * N)); tmp.resize(Q.size()); }
        for (int64_t i = 0; i < ns; ++i)
          std::memcpy(Q.data() + i * N, q + (w.t0 + who[i]) * C + h * N, static_cast<size_t>(N) * 4);
        // Few queries (decode): dot products straight from the stored rows.
        // Many (prefill): convert the chunk once and use matrix products.
        const bool direct = ns <= kDirectQueries;
        // A chunk is one KV page, so its rows sit at a fixed stride.
        const size_t stride = static_cast<size_t>(C) * eb;
        const uint8_t* kbase = static_cast<const uint8_t*>(kv.key_row(j * B)) + h * N * eb;
        const uint8_t* vbase = static_cast<const uint8_t*>(kv.value_row(j * B)) + h * N * eb;
        if (direct) {
          for (int64_t i = 0; i < ns; ++i) k.rows_dot(kv_dtype, kbase, stride, rows, Q.data() + i * N, N, S.data() + i * rows);
        } else {
          if (K.size() < static_cast<size_t>(rows * N)) { K.resize(static_cast<size_t>(rows * N)); Vt.resize(K.size()); }
          load_head(k, kv, h, N, j * B, rows, K.data(), Vt.data());
          k.gemm_f32(Q.data(), N, K.data(), N, S.data(), rows, ns, rows, N);
        }
        for (int64_t i = 0; i < ns; ++i) {
          const int64_t qi = who[static_cast<size_t>(i)];
          const int64_t valid = j == c ? pos0 + w.t0 + qi - c * B + 1 : rows;  // causal in the own chunk
          float* srow = S.data() + i * rows;
          float mx = -INFINITY;
          for (int64_t s = 0; s < valid; ++s) mx = std::max(mx, srow[s] *= p.scale);
          const float mnew = std::max(m[qi], mx), corr = std::exp(m[qi] - mnew);
          float sum = 0.f;
          for (int64_t s = 0; s < valid; ++s) sum += srow[s] = std::exp(srow[s] - mnew);
          for (int64_t s = valid; s < rows; ++s) srow[s] = 0.f;
          l[qi] = l[qi] * corr + sum;
          m[qi] = mnew;
          for (int64_t d = 0; d < N; ++d) acc[qi * N + d] *= corr;
        }
        if (direct) {
          for (int64_t i = 0; i < ns; ++i)
            k.rows_axpy(kv_dtype, vbase, stride, rows, S.data() + i * rows, N, acc.data() + who[static_cast<size_t>(i)] * N);
        } else {
          k.gemm_f32(S.data(), rows, Vt.data(), rows, tmp.data(), N, ns, N, rows);
          for (int64_t i = 0; i < ns; ++i)
            for (int64_t d = 0; d < N; ++d) acc[who[static_cast<size_t>(i)] * N + d] += tmp[i * N + d];
        }
      }
      for (int64_t t = 0; t < nq; ++t)
        for (int64_t d = 0; d < N; ++d) out[(w.t0 + t) * C + h * N + d] = acc[t * N + d] / l[t];
    }
  }, 1);
}

}  // namespace rwkvx
