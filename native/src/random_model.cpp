#include "random_model.h"

#include <cmath>
#include <random>
#include <vector>

#include "gguf.h"
#include "quant.h"
#include "tokenizer.h"

namespace rwkvx {

bool random_model_shape(const std::string& name, RandomModelShape& s) {
  s = RandomModelShape{};
  if (name == "0.1b" || name == "x0.22b") {
    s.n_embd = 768; s.n_layer = 12; s.lora_w = 64; s.lora_a = 64; s.lora_v = 32; s.lora_g = 128;
    if (name == "x0.22b") s.n_attn = 4;
  } else if (name == "0.4b") {
    s.n_embd = 1024; s.n_layer = 24; s.lora_w = 64; s.lora_a = 64; s.lora_v = 32; s.lora_g = 128;
  } else if (name == "1.5b") {
    s.n_embd = 2048; s.n_layer = 24; s.lora_w = 96; s.lora_a = 96; s.lora_v = 64; s.lora_g = 256;
  } else if (name == "2.9b") {
    s.n_embd = 2560; s.n_layer = 32; s.lora_w = 96; s.lora_a = 96; s.lora_v = 64; s.lora_g = 320;
  } else {
    return false;
  }
  s.n_ffn = 4 * s.n_embd;
  return true;
}

namespace {

class Filler {
 public:
  Filler(GgufWriter& w, uint64_t seed, DType mt) : w_(w), rng_(seed), mt_(mt) {}

  // 1-D fp32 vector of n values around `center` with spread `scale`.
  void vec(const std::string& name, int64_t n, float center, float scale, std::vector<int64_t> ne = {}) {
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = center + scale * u(rng_);
    add(name, DType::F32, ne.empty() ? std::vector<int64_t>{n} : ne, v, n);
  }
  // Matrix ne = [in, out] with values ~ U(-1,1)/sqrt(in) * gain.
  void mat(const std::string& name, int64_t in, int64_t out, float gain, bool force_f32 = false) {
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> v(static_cast<size_t>(in * out));
    const float s = gain / std::sqrt(static_cast<float>(in));
    for (auto& x : v) x = s * u(rng_);
    DType t = force_f32 ? DType::F32 : mt_;
    if (t == DType::Q8_0 && in % kQ8Block != 0) t = DType::F16;
    add(name, t, {in, out}, v, in);
  }

 private:
  void add(const std::string& name, DType t, const std::vector<int64_t>& ne, const std::vector<float>& v, int64_t row) {
    std::vector<uint8_t> bytes;
    bytes.reserve(dtype_row_bytes(t, row) * (v.size() / static_cast<size_t>(row)));
    for (size_t r = 0; r < v.size() / static_cast<size_t>(row); ++r) {
      std::vector<uint8_t> b = encode_row(t, v.data() + r * row, row);
      bytes.insert(bytes.end(), b.begin(), b.end());
    }
    w_.add_tensor(name, t, ne, std::move(bytes));
  }

  GgufWriter& w_;
  std::mt19937_64 rng_;
  DType mt_;
};

}  // namespace

void write_random_model(const std::string& path, const RandomModelShape& s) {
  GgufWriter w;
  const bool x = s.n_attn > 0;
  const std::string a = x ? "rwkvx" : "rwkv7";
  const int64_t C = s.n_embd, F = s.n_ffn, V = s.n_vocab;
  w.set_str("general.architecture", a);
  w.set_str("general.name", "random " + a + " L" + std::to_string(s.n_layer) + " D" + std::to_string(C));
  w.set_u32(a + ".context_length", 1048576);
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(C));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(F));
  w.set_u32(a + ".wkv.head_size", 64);
  w.set_f32(a + ".attention.layer_norm_epsilon", 1e-5f);
  w.set_u32(a + ".attention.decay_lora_rank", static_cast<uint32_t>(s.lora_w));
  w.set_u32(a + ".attention.iclr_lora_rank", static_cast<uint32_t>(s.lora_a));
  w.set_u32(a + ".attention.value_residual_mix_lora_rank", static_cast<uint32_t>(s.lora_v));
  w.set_u32(a + ".attention.gate_lora_rank", static_cast<uint32_t>(s.lora_g));
  w.set_u32(a + ".attention.head_count", 0);
  if (x) {
    w.set_u32("rwkvx.attention.block_count", static_cast<uint32_t>(s.n_attn));
    w.set_u32("rwkvx.attention.chunk_size", static_cast<uint32_t>(s.attn_chunk));
    w.set_u32("rwkvx.attention.top_k", static_cast<uint32_t>(s.attn_top_k));
    std::vector<int32_t> after;
    const int group = s.n_layer / s.n_attn;
    for (int j = 0; j < s.n_attn; ++j) after.push_back((j + 1) * group - 1);
    w.set_arr_i32("rwkvx.attention.after_block", after);
  }
  // Vocabulary: the 256 single bytes, then filler tokens, as llama.cpp writes rwkv vocabularies.
  std::vector<std::string> toks{"<s>"};
  for (int b = 0; b < 256 && static_cast<int64_t>(toks.size()) < V; ++b) toks.push_back(escape_token_bytes(std::string(1, static_cast<char>(b))));
  while (static_cast<int64_t>(toks.size()) < V) toks.push_back("[PAD" + std::to_string(toks.size()) + "]");
  w.set_str("tokenizer.ggml.model", "rwkv");
  w.set_arr_str("tokenizer.ggml.tokens", toks);

  Filler f(w, s.seed, s.matrix_type);
  f.mat("token_embd.weight", C, V, 1.f);
  f.vec("token_embd_norm.weight", C, 1.f, 0.1f);
  f.vec("token_embd_norm.bias", C, 0.f, 0.1f);
  for (int l = 0; l < s.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    f.vec(p + "attn_norm.weight", C, 1.f, 0.1f);
    f.vec(p + "attn_norm.bias", C, 0.f, 0.1f);
    f.vec(p + "attn_norm_2.weight", C, 1.f, 0.1f);
    f.vec(p + "attn_norm_2.bias", C, 0.f, 0.1f);
    f.vec(p + "time_mix_lerp_fused.weight", 6 * C, 0.5f, 0.4f, {C, 1, 1, 6});
    f.vec(p + "time_mix_w0.weight", C, -1.f, 2.f);
    f.mat(p + "time_mix_w1.weight", C, s.lora_w, 0.5f, true);
    f.mat(p + "time_mix_w2.weight", s.lora_w, C, 0.5f, true);
    f.vec(p + "time_mix_a0.weight", C, 0.f, 1.f);
    f.mat(p + "time_mix_a1.weight", C, s.lora_a, 0.5f);
    f.mat(p + "time_mix_a2.weight", s.lora_a, C, 0.5f);
    f.vec(p + "time_mix_v0.weight", C, 0.f, 1.f);
    f.mat(p + "time_mix_v1.weight", C, s.lora_v, 0.5f);
    f.mat(p + "time_mix_v2.weight", s.lora_v, C, 0.5f);
    f.mat(p + "time_mix_g1.weight", C, s.lora_g, 0.5f);
    f.mat(p + "time_mix_g2.weight", s.lora_g, C, 0.5f);
    f.vec(p + "time_mix_k_k.weight", C, 0.8f, 0.2f);
    f.vec(p + "time_mix_k_a.weight", C, 1.f, 0.2f);
    f.vec(p + "time_mix_r_k.weight", C, 0.f, 0.5f);
    f.mat(p + "time_mix_receptance.weight", C, C, 1.f);
    f.mat(p + "time_mix_key.weight", C, C, 1.f);
    f.mat(p + "time_mix_value.weight", C, C, 1.f);
    f.mat(p + "time_mix_output.weight", C, C, 0.5f);
    f.vec(p + "time_mix_ln.weight", C, 1.f, 0.1f);
    f.vec(p + "time_mix_ln.bias", C, 0.f, 0.1f);
    f.vec(p + "channel_mix_lerp_k.weight", C, 0.5f, 0.4f);
    f.mat(p + "channel_mix_key.weight", C, F, 1.f);
    f.mat(p + "channel_mix_value.weight", F, C, 0.5f);
  }
  for (int j = 0; j < s.n_attn; ++j) {
    const std::string p = "moba." + std::to_string(j) + ".";
    f.vec(p + "attn_norm.weight", C, 1.f, 0.1f);
    f.vec(p + "attn_norm.bias", C, 0.f, 0.1f);
    f.vec(p + "attn_norm_2.weight", C, 1.f, 0.1f);
    f.vec(p + "attn_norm_2.bias", C, 0.f, 0.1f);
    f.mat(p + "attn_q.weight", C, C, 1.f);
    f.mat(p + "attn_k.weight", C, C, 1.f);
    f.mat(p + "attn_v.weight", C, C, 1.f);
    f.mat(p + "attn_output.weight", C, C, 0.5f);
    f.vec(p + "channel_mix_lerp_k.weight", C, 0.5f, 0.4f);
    f.mat(p + "channel_mix_key.weight", C, F, 1.f);
    f.mat(p + "channel_mix_value.weight", F, C, 0.5f);
  }
  f.vec("output_norm.weight", C, 1.f, 0.1f);
  f.vec("output_norm.bias", C, 0.f, 0.1f);
  f.mat("output.weight", C, V, 1.f);
  w.write(path);
}

}  // namespace rwkvx
