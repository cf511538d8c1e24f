// The CPU executor: the forward pass of RWKV-7 and RWKV-X for a chunk of T
// tokens (T = 1 is a decode step) with projections as matrix products over the
// chunk, the WKV recurrence exact and sequential in time, and attention over
// the paged KV cache. This is the reference every other backend matches.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "error.h"
#include "executor.h"
#include "kv_store.h"
#include "quant.h"

namespace rwkvx {

namespace {

// Scratch buffers for one forward call, reused between calls.
struct Workspace {
  std::vector<float> h, x, xx, xr, xw, xk, xv, xa, xg, r, w, k, v, a, g, b, kk, y, vfirst, lora, lora2, ffn, logits_x;
  void reserve(int64_t T, const HParams& hp);
};

}  // namespace

StateLayout state_layout(const HParams& hp) {
  return StateLayout{hp.n_embd, hp.n_head, hp.head_size, hp.n_layer, hp.n_attn};
}

namespace {
void Workspace::reserve(int64_t T, const HParams& hp) {
  const size_t tc = static_cast<size_t>(T * hp.n_embd);
  for (auto* v : {&h, &x, &xx, &xr, &xw, &xk, &xv, &xa, &xg, &r, &w, &k, &v, &a, &g, &b, &kk, &y, &vfirst, &logits_x})
    if (v->size() < tc) v->resize(tc);
  const int64_t dmax = std::max({hp.lora_w, hp.lora_a, hp.lora_v, hp.lora_g, 1});
  if (lora.size() < static_cast<size_t>(T * dmax)) lora.resize(static_cast<size_t>(T * dmax));
  if (lora2.size() < tc) lora2.resize(tc);
  if (ffn.size() < static_cast<size_t>(T * hp.n_ffn)) ffn.resize(static_cast<size_t>(T * hp.n_ffn));
}
}  // namespace

namespace {

// xx = shift(x) - x with `prev` as the row before the first; prev := last row.
void token_shift(const float* x, float* xx, float* prev, int64_t T, int64_t C) {
  for (int64_t t = 0; t < T; ++t) {
    const float* before = t == 0 ? prev : x + (t - 1) * C;
    for (int64_t i = 0; i < C; ++i) xx[t * C + i] = before[i] - x[t * C + i];
  }
  std::memcpy(prev, x + (T - 1) * C, static_cast<size_t>(C) * 4);
}

void mix(const float* x, const float* xx, const std::vector<float>& mu, float* out, int64_t T, int64_t C) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < C; ++i) out[t * C + i] = x[t * C + i] + xx[t * C + i] * mu[i];
}

void add_bias(float* x, const std::vector<float>& bias, int64_t T, int64_t C) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < C; ++i) x[t * C + i] += bias[i];
}

// Channel mix: h += W_value relu(W_key (x + (prev - x) * mu))^2, with x = LN2(h).
void channel_mix(const OpContext& ctx, const HParams& hp, Workspace& ws, float* h, const std::vector<float>& ln_w,
                 const std::vector<float>& ln_b, const std::vector<float>& mu, const TensorView& key,
                 const TensorView& value, float* prev, int64_t T) {
  const int64_t C = hp.n_embd, F = key.rows();
  layer_norm(h, ln_w.data(), ln_b.data(), ws.x.data(), T, C, hp.ln_eps);
  token_shift(ws.x.data(), ws.xx.data(), prev, T, C);
  mix(ws.x.data(), ws.xx.data(), mu, ws.xk.data(), T, C);
  linear(ctx, key, ws.xk.data(), T, ws.ffn.data());
  for (int64_t i = 0; i < T * F; ++i) {
    const float z = std::max(ws.ffn[i], 0.f);
    ws.ffn[i] = z * z;
  }
  linear(ctx, value, ws.ffn.data(), T, h, /*accumulate=*/true);
}

// out = (x @ m1ᵀ → act) @ m2ᵀ, where act is tanh, sigmoid or none.
enum class Act { None, Tanh, Sigmoid };
void lora(const OpContext& ctx, Workspace& ws, const TensorView& m1, const TensorView& m2, Act act, const float* x,
          float* out, int64_t T) {
  const int64_t D = m1.rows();
  linear(ctx, m1, x, T, ws.lora.data());
  if (act == Act::Tanh) tanh_inplace(ws.lora.data(), T * D);
  if (act == Act::Sigmoid) sigmoid_inplace(ws.lora.data(), T * D);
  linear(ctx, m2, ws.lora.data(), T, out);
}

void time_mix(const OpContext& ctx, const HParams& hp, const Rwkv7Layer& L, int64_t layer, Workspace& ws, float* h,
              float* att_prev, float* S, int64_t T) {
  const int64_t C = hp.n_embd, H = hp.n_head, N = hp.head_size, TC = T * C;
  layer_norm(h, L.ln1_w.data(), L.ln1_b.data(), ws.x.data(), T, C, hp.ln_eps);
  token_shift(ws.x.data(), ws.xx.data(), att_prev, T, C);
  mix(ws.x.data(), ws.xx.data(), L.x_r, ws.xr.data(), T, C);
  mix(ws.x.data(), ws.xx.data(), L.x_w, ws.xw.data(), T, C);
  mix(ws.x.data(), ws.xx.data(), L.x_k, ws.xk.data(), T, C);
  mix(ws.x.data(), ws.xx.data(), L.x_v, ws.xv.data(), T, C);
  mix(ws.x.data(), ws.xx.data(), L.x_a, ws.xa.data(), T, C);
  mix(ws.x.data(), ws.xx.data(), L.x_g, ws.xg.data(), T, C);

  linear(ctx, L.wr, ws.xr.data(), T, ws.r.data());
  linear(ctx, L.wk, ws.xk.data(), T, ws.k.data());
  linear(ctx, L.wv, ws.xv.data(), T, ws.v.data());

  // decay: w = exp(-0.606531 * sigmoid(w0 + tanh(x_w w1) w2))
  lora(ctx, ws, L.w1, L.w2, Act::Tanh, ws.xw.data(), ws.w.data(), T);
  add_bias(ws.w.data(), L.w0, T, C);
  for (int64_t i = 0; i < TC; ++i) ws.w[i] = std::exp(-0.606531f / (1.f + std::exp(-ws.w[i])));

  // in-context learning rate: a = sigmoid(a0 + (x_a a1) a2)
  lora(ctx, ws, L.a1, L.a2, Act::None, ws.xa.data(), ws.a.data(), T);
  add_bias(ws.a.data(), L.a0, T, C);
  sigmoid_inplace(ws.a.data(), TC);

  // value residual
  if (layer == 0) {
    std::memcpy(ws.vfirst.data(), ws.v.data(), static_cast<size_t>(TC) * 4);
  } else {
    lora(ctx, ws, L.v1, L.v2, Act::None, ws.xv.data(), ws.lora2.data(), T);
    add_bias(ws.lora2.data(), L.v0, T, C);
    sigmoid_inplace(ws.lora2.data(), TC);
    for (int64_t i = 0; i < TC; ++i) ws.v[i] += (ws.vfirst[i] - ws.v[i]) * ws.lora2[i];
  }

  // gate: g = sigmoid(x_g g1) g2
  lora(ctx, ws, L.g1, L.g2, Act::Sigmoid, ws.xg.data(), ws.g.data(), T);

  // kk = normalize(k * k_k) per head; k = k * (1 + (a - 1) * k_a)
  for (int64_t t = 0; t < T; ++t)
    for (int64_t hh = 0; hh < H; ++hh) {
      const int64_t o = t * C + hh * N;
      float ss = 0.f;
      for (int64_t j = 0; j < N; ++j) {
        const float z = ws.k[o + j] * L.k_k[hh * N + j];
        ws.kk[o + j] = z;
        ss += z * z;
      }
      const float inv = 1.f / std::max(std::sqrt(ss), 1e-12f);
      for (int64_t j = 0; j < N; ++j) {
        const int64_t c = hh * N + j;
        ws.kk[o + j] *= inv;
        ws.k[o + j] *= 1.f + (ws.a[o + j] - 1.f) * L.k_a[c];
        // recurrence inputs: a_in = -kk, b_in = kk * a (stored in xa/xw, free now)
        ws.xa[o + j] = -ws.kk[o + j];
        ws.b[o + j] = ws.kk[o + j] * ws.a[o + j];
      }
    }

  wkv7_seq(ctx, T, H, N, ws.r.data(), ws.w.data(), ws.k.data(), ws.v.data(), ws.xa.data(), ws.b.data(), S, ws.y.data());

  group_norm(ws.y.data(), L.lnx_w.data(), L.lnx_b.data(), ws.y.data(), T, C, N, hp.lnx_eps);
  // bonus: per head (sum_j r_j k_j r_k[h,j]) * v, then gate
  for (int64_t t = 0; t < T; ++t)
    for (int64_t hh = 0; hh < H; ++hh) {
      const int64_t o = t * C + hh * N;
      float s = 0.f;
      for (int64_t j = 0; j < N; ++j) s += ws.r[o + j] * ws.k[o + j] * L.r_k[hh * N + j];
      for (int64_t j = 0; j < N; ++j) ws.y[o + j] = (ws.y[o + j] + s * ws.v[o + j]) * ws.g[o + j];
    }
  linear(ctx, L.wo, ws.y.data(), T, h, /*accumulate=*/true);
}

void attention_block(const OpContext& ctx, const HParams& hp, const AttnLayer& A, KvStore& kv, Workspace& ws,
                     float* h, float* ffn_prev, int64_t T, int64_t pos0) {
  const int64_t C = hp.n_embd;
  layer_norm(h, A.ln1_w.data(), A.ln1_b.data(), ws.x.data(), T, C, hp.ln_eps);
  linear(ctx, A.wq, ws.x.data(), T, ws.r.data());
  linear(ctx, A.wk, ws.x.data(), T, ws.k.data());
  linear(ctx, A.wv, ws.x.data(), T, ws.v.data());
  kv.append(ws.k.data(), ws.v.data(), T);
  const MobaParams mp{hp.n_head, hp.head_size, hp.attn_chunk, hp.attn_top_k, 1.f / std::sqrt(static_cast<float>(hp.head_size))};
  moba_attention(ctx, mp, kv, ws.r.data(), T, pos0, ws.y.data());
  linear(ctx, A.wo, ws.y.data(), T, h, /*accumulate=*/true);
  channel_mix(ctx, hp, ws, h, A.ln2_w, A.ln2_b, A.ffn_x_k, A.ffn_key, A.ffn_value, ffn_prev, T);
}

}  // namespace

namespace {

class CpuExecutor final : public Executor {
 public:
  CpuExecutor(const Model& model, Runtime& rt, KvType kv_type)
      : model_(model), rt_(rt), layout_(state_layout(model.hp)) {
    for (int j = 0; j < model.hp.n_attn; ++j) kv_.emplace_back(model.hp.n_embd, model.hp.attn_chunk, kv_type);
    reset();
  }

  void forward(const int32_t* tokens, int64_t T, int64_t pos0, float* logits, bool all_logits) override;

  // Each prefill chunk converts and packs every weight once (ops.cpp linear),
  // so longer chunks spread that over more tokens: 512 for small models
  // (a 31M model's packing was ~60% of its product time at 128), shorter for
  // large ones so a chunk stays a few seconds on two cores (progress, abort).
  int preferred_chunk() const override {
    const int64_t p = model_.n_params;
    return p <= 200'000'000 ? 512 : p <= 1'000'000'000 ? 256 : 128;
  }

  void reset() override {
    state_.assign(static_cast<size_t>(layout_.size()), 0.f);
    for (auto& k : kv_) k.clear();
  }
  void truncate_kv(int64_t n) override {
    for (auto& k : kv_) k.truncate(n);
  }
  std::unique_ptr<Executor> fork() const override {
    // Copies the state; KvStore copies share their pages copy-on-write.
    return std::unique_ptr<Executor>(new CpuExecutor(*this));
  }
  std::vector<float> read_state() const override { return state_; }
  void write_state(const std::vector<float>& s) override {
    if (s.size() != state_.size()) fail(RWKVX_ERR_STATE_MISMATCH, "state size does not match this model");
    state_ = s;
  }
  std::vector<uint8_t> read_kv() const override {
    std::vector<uint8_t> out;
    for (const auto& k : kv_) k.write_rows(out);
    return out;
  }
  void write_kv(const uint8_t* data, size_t size, int64_t n) override {
    if (size != kv_bytes_per_token() * static_cast<size_t>(n)) fail(RWKVX_ERR_FORMAT, "KV blob size mismatch");
    std::vector<KvStore> kv = kv_;
    size_t off = 0;
    for (auto& k : kv) {
      k.read_rows(data + off, n);
      off += k.bytes_per_token() * static_cast<size_t>(n);
    }
    kv_ = std::move(kv);
  }
  size_t kv_bytes_per_token() const override {
    size_t b = 0;
    for (const auto& k : kv_) b += k.bytes_per_token();
    return b;
  }

 private:
  CpuExecutor(const CpuExecutor& o) = default;

  const Model& model_;
  Runtime& rt_;
  StateLayout layout_;
  std::vector<float> state_;
  std::vector<KvStore> kv_;
  Workspace ws_;
};

void CpuExecutor::forward(const int32_t* tokens, int64_t T, int64_t pos0, float* logits, bool all_logits) {
  const HParams& hp = model_.hp;
  const int64_t C = hp.n_embd;
  ws_.reserve(T, hp);
  OpContext ctx = rt_.ctx();
  float* h = ws_.h.data();
  for (int64_t t = 0; t < T; ++t) dequantize_row(model_.emb.type, model_.emb.row(tokens[t]), h + t * C, C);
  layer_norm(h, model_.ln0_w.data(), model_.ln0_b.data(), h, T, C, hp.ln_eps);

  size_t next_attn = 0;
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const Rwkv7Layer& L = model_.layers[static_cast<size_t>(l)];
    time_mix(ctx, hp, L, l, ws_, h, state_.data() + layout_.att_x(l), state_.data() + layout_.wkv(l), T);
    channel_mix(ctx, hp, ws_, h, L.ln2_w, L.ln2_b, L.ffn_x_k, L.ffn_key, L.ffn_value, state_.data() + layout_.ffn_x(l), T);
    while (next_attn < model_.attn.size() && hp.attn_after[next_attn] == l) {
      attention_block(ctx, hp, model_.attn[next_attn], kv_[next_attn], ws_, h,
                      state_.data() + layout_.attn_ffn_x(static_cast<int64_t>(next_attn)), T, pos0);
      ++next_attn;
    }
  }

  const int64_t first = all_logits ? 0 : T - 1, rows = T - first;
  float* xo = ws_.logits_x.data();
  layer_norm(h + first * C, model_.lnout_w.data(), model_.lnout_b.data(), xo, rows, C, hp.ln_eps);
  linear(ctx, model_.head, xo, rows, logits);
}

}  // namespace

std::unique_ptr<Executor> make_cpu_executor(const Model& model, Runtime& rt, rwkvx_kv_type kv_type) {
  return std::make_unique<CpuExecutor>(model, rt, kv_type == RWKVX_KV_F16 ? KvType::F16 : KvType::F32);
}

}  // namespace rwkvx
