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
      thread_local std::vector<float> row, panel;
      if (row.size() < static_cast<size_t>(in)) row.resize(static_cast<size_t>(in));
      if (panel.size() < static_cast<size_t>(in * kPackWidth)) panel.resize(static_cast<size_t>(in * kPackWidth));
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r0 = b * kPackWidth, rn = std::min(kPackWidth, out - r0);
        for (int64_t r = 0; r < kPackWidth; ++r) {
          if (r < rn) k.to_f32(W.type, W.row(r0 + r), row.data(), in);
          for (int64_t i = 0; i < in; ++i) panel[static_cast<size_t>(i * kPackWidth + r)] = r < rn ? row[static_cast<size_t>(i)] : 0.f;
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

void moba_attention(const OpContext& ctx, const MobaParams& p, const KvStore& kv, const float* q, int64_t T,
                    int64_t pos0, float* out) {
  const int64_t H = p.n_head, N = p.head_size, C = H * N, B = p.chunk;
  const KernelSet& k = *ctx.k;
  const bool f16 = kv.type() == KvType::F16;
  ctx.pool->parallel_for(T * H, [&](int64_t i0, int64_t i1, int) {
    std::vector<float> kf(static_cast<size_t>(N)), vf(static_cast<size_t>(N)), acc(static_cast<size_t>(N));
    std::vector<std::pair<float, int64_t>> scores;
    std::vector<int64_t> chosen;
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t t = i / H, h = i % H, pos = pos0 + t, c = pos / B;
      const float* qh = q + t * C + h * N;
      chosen.clear();
      if (c <= p.top_k - 1) {
        for (int64_t j = 0; j < c; ++j) chosen.push_back(j);
      } else {
        scores.clear();
        for (int64_t j = 0; j < c; ++j) {
          const float* ks = kv.key_sum(j) + h * N;
          float s = 0.f;
          for (int64_t d = 0; d < N; ++d) s += qh[d] * (ks[d] / static_cast<float>(B));
          scores.emplace_back(s, j);
        }
        const int64_t n_pick = p.top_k - 1;
        std::partial_sort(scores.begin(), scores.begin() + n_pick, scores.end(), [](const auto& x, const auto& y) {
          return x.first > y.first || (x.first == y.first && x.second < y.second);
        });
        for (int64_t j = 0; j < n_pick; ++j) chosen.push_back(scores[j].second);
        std::sort(chosen.begin(), chosen.end());
      }
      // Online softmax over the chosen chunks, then the own chunk up to pos.
      float m = -INFINITY, l = 0.f;
      std::fill(acc.begin(), acc.end(), 0.f);
      auto attend = [&](int64_t from, int64_t to) {
        for (int64_t s = from; s < to; ++s) {
          const float* krow;
          if (f16) {
            const uint16_t* kr = static_cast<const uint16_t*>(kv.key_row(s)) + h * N;
            for (int64_t d = 0; d < N; ++d) kf[d] = fp16_to_f32(kr[d]);
            krow = kf.data();
          } else {
            krow = static_cast<const float*>(kv.key_row(s)) + h * N;
          }
          const float logit = k.dot_f32(qh, krow, N) * p.scale;
          const float* vrow;
          if (f16) {
            const uint16_t* vr = static_cast<const uint16_t*>(kv.value_row(s)) + h * N;
            for (int64_t d = 0; d < N; ++d) vf[d] = fp16_to_f32(vr[d]);
            vrow = vf.data();
          } else {
            vrow = static_cast<const float*>(kv.value_row(s)) + h * N;
          }
          if (logit > m) {
            const float corr = std::exp(m - logit);
            l *= corr;
            for (int64_t d = 0; d < N; ++d) acc[d] *= corr;
            m = logit;
          }
          const float e = std::exp(logit - m);
          l += e;
          for (int64_t d = 0; d < N; ++d) acc[d] += e * vrow[d];
        }
      };
      for (int64_t j : chosen) attend(j * B, (j + 1) * B);
      attend(c * B, pos + 1);
      float* oh = out + t * C + h * N;
      for (int64_t d = 0; d < N; ++d) oh[d] = acc[d] / l;
    }
  }, 1);
}

}  // namespace rwkvx
