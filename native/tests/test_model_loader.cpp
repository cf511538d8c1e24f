// load_model on small GGUF files built here with GgufWriter: hyper-parameters,
// vectors and matrix views, and clear RWKVX_ERR_SHAPE errors naming the
// tensor for anything missing or mis-shaped.
#include <cstring>
#include <functional>
#include <map>

#include <unistd.h>

#include "error.h"
#include "gguf.h"
#include "half.h"
#include "model.h"
#include "quant.h"
#include "testing.h"

using namespace rwkvx;

namespace {

// Per-process scratch names: ctest and a developer's run may overlap, and a
// file rewritten under another process's mapping would fault there.
std::string scratch(const std::string& name) { return testing::scratch(std::to_string(getpid()) + "-" + name); }


struct Spec {
  std::string arch = "rwkv7";
  int C = 64, L = 2, F = 96, V = 300, Dw = 32, Da = 32, Dv = 16, Dg = 48, NA = 0, Fa = 128;
  bool layer0_v = true;
  std::vector<int32_t> after;  // rwkvx.attention.after_block, empty = absent
  int n_tokens = 260;
};

// Value of element i of a tensor: distinct per tensor and position.
float val(const std::string& name, size_t i) {
  uint32_t h = 2166136261u;
  for (char c : name) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return static_cast<float>(static_cast<int>((h + i * 2654435761u) % 2001u) - 1000) / 1000.f;
}

using Tweak = std::function<bool(std::string& name, std::vector<int64_t>& ne, DType& type)>;  // false = drop

struct Built {
  std::string path;
  std::map<std::string, std::vector<float>> values;  // what was written, as fp32
};

Built build(const Spec& s, const std::string& file, Tweak tweak = nullptr,
            std::function<void(GgufWriter&)> meta = nullptr) {
  Built out;
  GgufWriter w;
  const std::string a = s.arch + ".";
  w.set_str("general.architecture", s.arch);
  w.set_str("general.name", "tiny test");
  w.set_u32(a + "context_length", 4096);
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(s.C));
  w.set_u32(a + "block_count", static_cast<uint32_t>(s.L));
  w.set_f32(a + "attention.layer_norm_epsilon", 1e-5f);
  w.set_u32(a + "wkv.head_size", 64);
  w.set_u32(a + "attention.decay_lora_rank", static_cast<uint32_t>(s.Dw));
  w.set_u32(a + "attention.iclr_lora_rank", static_cast<uint32_t>(s.Da));
  w.set_u32(a + "attention.value_residual_mix_lora_rank", static_cast<uint32_t>(s.Dv));
  w.set_u32(a + "attention.gate_lora_rank", static_cast<uint32_t>(s.Dg));
  w.set_u32(a + "feed_forward_length", static_cast<uint32_t>(s.F));
  if (s.arch == "rwkvx") {
    w.set_u32(a + "attention.block_count", static_cast<uint32_t>(s.NA));
    w.set_u32(a + "attention.chunk_size", 16);
    w.set_u32(a + "attention.top_k", 2);
    if (!s.after.empty()) w.set_arr_i32(a + "attention.after_block", s.after);
  }
  std::vector<std::string> toks = {"<s>"};
  for (int b = 0; b < 256; ++b) toks.push_back(escape_token_bytes(std::string(1, static_cast<char>(b))));
  toks.push_back("\\n\\n");
  toks.push_back("ab");
  while (static_cast<int>(toks.size()) < s.n_tokens) toks.push_back("[PAD" + std::to_string(toks.size()) + "]");
  w.set_str("tokenizer.ggml.model", "rwkv");
  w.set_arr_str("tokenizer.ggml.tokens", toks);
  if (meta) meta(w);

  auto add = [&](std::string name, std::vector<int64_t> ne, DType type) {
    if (tweak && !tweak(name, ne, type)) return;
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = val(name, i);
    std::vector<uint8_t> bytes;
    const int64_t rows = n / ne[0];
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<uint8_t> row = encode_row(type, v.data() + r * ne[0], ne[0]);
      bytes.insert(bytes.end(), row.begin(), row.end());
    }
    // Record what the reader should see after the type's rounding.
    std::vector<float> back(static_cast<size_t>(n));
    for (int64_t r = 0; r < rows; ++r) dequantize_row(type, bytes.data() + r * dtype_row_bytes(type, ne[0]), back.data() + r * ne[0], ne[0]);
    out.values[name] = back;
    w.add_tensor(name, type, ne, std::move(bytes));
  };
  const int64_t C = s.C;
  add("token_embd.weight", {C, s.V}, DType::F16);
  add("token_embd_norm.weight", {C}, DType::F32);
  add("token_embd_norm.bias", {C}, DType::F32);
  for (int i = 0; i < s.L; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    add(p + "attn_norm.weight", {C}, DType::F32);
    add(p + "attn_norm.bias", {C}, DType::F32);
    add(p + "attn_norm_2.weight", {C}, DType::F32);
    add(p + "attn_norm_2.bias", {C}, DType::F32);
    add(p + "time_mix_lerp_fused.weight", {C, 1, 1, 6}, DType::F32);
    add(p + "time_mix_w0.weight", {C}, DType::F32);
    add(p + "time_mix_w1.weight", {C, s.Dw}, DType::F32);
    add(p + "time_mix_w2.weight", {s.Dw, C}, DType::F32);
    add(p + "time_mix_a0.weight", {C}, DType::F32);
    add(p + "time_mix_a1.weight", {C, s.Da}, DType::F16);
    add(p + "time_mix_a2.weight", {s.Da, C}, DType::F16);
    if (i > 0 || s.layer0_v) {
      const int64_t dv = i == 0 ? s.Da : s.Dv;  // layer 0: llama.cpp's copy of a
      add(p + "time_mix_v0.weight", {C}, DType::F32);
      add(p + "time_mix_v1.weight", {C, dv}, DType::F16);
      add(p + "time_mix_v2.weight", {dv, C}, DType::F16);
    }
    add(p + "time_mix_g1.weight", {C, s.Dg}, DType::BF16);
    add(p + "time_mix_g2.weight", {s.Dg, C}, DType::F16);
    add(p + "time_mix_k_k.weight", {C}, DType::F32);
    add(p + "time_mix_k_a.weight", {C}, DType::F32);
    add(p + "time_mix_r_k.weight", {C}, DType::F32);
    add(p + "time_mix_receptance.weight", {C, C}, DType::Q8_0);
    add(p + "time_mix_key.weight", {C, C}, DType::F16);
    add(p + "time_mix_value.weight", {C, C}, DType::F16);
    add(p + "time_mix_output.weight", {C, C}, DType::F16);
    add(p + "time_mix_ln.weight", {C}, DType::F32);
    add(p + "time_mix_ln.bias", {C}, DType::F32);
    add(p + "channel_mix_lerp_k.weight", {C}, DType::F32);
    add(p + "channel_mix_key.weight", {C, s.F}, DType::F16);
    add(p + "channel_mix_value.weight", {s.F, C}, DType::F16);
  }
  for (int j = 0; j < s.NA; ++j) {
    const std::string p = "moba." + std::to_string(j) + ".";
    add(p + "attn_norm.weight", {C}, DType::F32);
    add(p + "attn_norm.bias", {C}, DType::F32);
    add(p + "attn_norm_2.weight", {C}, DType::F32);
    add(p + "attn_norm_2.bias", {C}, DType::F32);
    add(p + "attn_q.weight", {C, C}, DType::F16);
    add(p + "attn_k.weight", {C, C}, DType::F16);
    add(p + "attn_v.weight", {C, C}, DType::F16);
    add(p + "attn_output.weight", {C, C}, DType::F16);
    add(p + "channel_mix_lerp_k.weight", {C}, DType::F32);
    add(p + "channel_mix_key.weight", {C, s.Fa}, DType::F16);
    add(p + "channel_mix_value.weight", {s.Fa, C}, DType::F16);
  }
  add("output_norm.weight", {C}, DType::F32);
  add("output_norm.bias", {C}, DType::F32);
  add("output.weight", {C, s.V}, DType::F16);
  out.path = scratch(file);
  w.write(out.path);
  return out;
}

rwkvx_status load_status(const std::string& path, std::string* msg = nullptr) {
  try {
    load_model(path, true);
  } catch (const Error& e) {
    if (msg) *msg = e.what();
    return e.code();
  }
  return RWKVX_OK;
}

bool has(const std::string& msg, const std::string& needle) { return msg.find(needle) != std::string::npos; }

bool same(const std::vector<float>& a, const std::vector<float>& b) { return a == b; }

std::vector<float> slice(const std::vector<float>& v, int64_t j, int64_t C) {
  return std::vector<float>(v.begin() + j * C, v.begin() + (j + 1) * C);
}

}  // namespace

TEST(loads_rwkv7_hparams_and_weights) {
  Spec s;
  const Built b = build(s, "loader-ok.gguf");
  for (bool mmap : {true, false}) {
    auto m = load_model(b.path, mmap);
    const HParams& hp = m->hp;
    CHECK(hp.arch == Arch::Rwkv7);
    CHECK(hp.n_embd == 64 && hp.n_layer == 2 && hp.n_head == 1 && hp.head_size == 64 && hp.n_ffn == 96);
    CHECK(hp.n_vocab == 300);
    CHECK(hp.lora_w == 32 && hp.lora_a == 32 && hp.lora_v == 16 && hp.lora_g == 48);
    CHECK(hp.ln_eps == 1e-5f && hp.lnx_eps == 64e-5f);
    CHECK(hp.context_length == 4096);
    CHECK(hp.n_attn == 0 && m->attn.empty());
    CHECK(m->name == "tiny test");
    CHECK(same(m->ln0_w, b.values.at("token_embd_norm.weight")));
    CHECK(same(m->lnout_b, b.values.at("output_norm.bias")));
    CHECK(m->emb.ne[0] == 64 && m->emb.ne[1] == 300 && m->emb.type == DType::F16);
    CHECK(same(tensor_to_f32(m->head), b.values.at("output.weight")));
    const Rwkv7Layer& L1 = m->layers[1];
    const std::vector<float>& lerp = b.values.at("blk.1.time_mix_lerp_fused.weight");
    // lerp_fused order: r, w, k, v, a, g.
    CHECK(same(L1.x_r, slice(lerp, 0, 64)));
    CHECK(same(L1.x_w, slice(lerp, 1, 64)));
    CHECK(same(L1.x_k, slice(lerp, 2, 64)));
    CHECK(same(L1.x_v, slice(lerp, 3, 64)));
    CHECK(same(L1.x_a, slice(lerp, 4, 64)));
    CHECK(same(L1.x_g, slice(lerp, 5, 64)));
    CHECK(same(L1.w0, b.values.at("blk.1.time_mix_w0.weight")));
    CHECK(same(L1.r_k, b.values.at("blk.1.time_mix_r_k.weight")));
    CHECK(same(L1.lnx_b, b.values.at("blk.1.time_mix_ln.bias")));
    CHECK(same(L1.ffn_x_k, b.values.at("blk.1.channel_mix_lerp_k.weight")));
    CHECK(L1.w1.ne[0] == 64 && L1.w1.ne[1] == 32 && L1.w2.ne[0] == 32 && L1.w2.ne[1] == 64);
    CHECK(L1.v1.ne[1] == 16 && L1.g1.ne[1] == 48 && L1.g1.type == DType::BF16);
    CHECK(L1.wr.type == DType::Q8_0 && L1.wr.rows() == 64 && L1.wr.cols() == 64);
    CHECK(same(tensor_to_f32(L1.wr), b.values.at("blk.1.time_mix_receptance.weight")));
    CHECK(L1.ffn_key.ne[0] == 64 && L1.ffn_key.ne[1] == 96 && L1.ffn_value.ne[0] == 96 && L1.ffn_value.ne[1] == 64);
    CHECK(same(tensor_to_f32(L1.ffn_value), b.values.at("blk.1.channel_mix_value.weight")));
    // Layer 0 holds llama.cpp's copy of a's rank in v1/v2.
    CHECK(m->layers[0].v1.data != nullptr && m->layers[0].v1.ne[1] == 32);
    // Tokenizer from the escaped list; padding is empty.
    CHECK(m->tokenizer.n_vocab() == 260);
    CHECK(m->tokenizer.bytes(1) == std::string(1, '\0'));
    CHECK(m->tokenizer.bytes(257) == "\n\n");
    CHECK(m->tokenizer.bytes(259).empty());
    CHECK((m->tokenizer.encode("ab\n\n", 4) == std::vector<int32_t>{258, 257}));
    // Totals.
    int64_t params = 0;
    uint64_t bytes = 0;
    for (const TensorView& t : m->file->tensors()) {
      params += t.nelements();
      bytes += t.nbytes;
    }
    CHECK(m->n_params == params && m->weight_bytes == bytes && params > 0);
  }
  std::remove(b.path.c_str());
}

TEST(fingerprint_is_stable_and_tracks_shapes) {
  Spec s;
  const Built a = build(s, "fp-a.gguf");
  const uint64_t fa = load_model(a.path, true)->fingerprint;
  CHECK(fa == load_model(a.path, false)->fingerprint);
  const Built a2 = build(s, "fp-a2.gguf");
  CHECK(fa == load_model(a2.path, true)->fingerprint);
  s.Dg = 64;
  const Built c = build(s, "fp-c.gguf");
  CHECK(fa != load_model(c.path, true)->fingerprint);
  const Built d = build(Spec(), "fp-d.gguf", [](std::string& n, std::vector<int64_t>&, DType& t) {
    if (n == "blk.1.time_mix_key.weight") t = DType::F32;
    return true;
  });
  CHECK(fa != load_model(d.path, true)->fingerprint);
  for (const std::string& p : {a.path, a2.path, c.path, d.path}) std::remove(p.c_str());
}

TEST(layer0_without_v_and_vector_shapes) {
  Spec s;
  s.layer0_v = false;
  const Built b = build(s, "loader-nov.gguf", [](std::string& n, std::vector<int64_t>& ne, DType&) {
    if (n == "blk.1.time_mix_k_k.weight") ne = {1, 1, 64};   // [1,1,C] is a vector too
    if (n == "blk.0.time_mix_w0.weight") ne = {64, 1, 1};
    if (n == "blk.1.time_mix_r_k.weight") ne = {64, 1};       // [N, H]
    return true;
  });
  auto m = load_model(b.path, true);
  CHECK(m->layers[0].v1.data == nullptr && m->layers[0].v2.data == nullptr && m->layers[0].v0.empty());
  CHECK(m->layers[1].v1.data != nullptr && m->layers[1].v0.size() == 64);
  CHECK(same(m->layers[1].k_k, b.values.at("blk.1.time_mix_k_k.weight")));
  CHECK(same(m->layers[0].w0, b.values.at("blk.0.time_mix_w0.weight")));
  std::remove(b.path.c_str());
}

TEST(missing_and_misshaped_tensors_are_named) {
  struct Case {
    const char* target;
    std::vector<int64_t> ne;  // empty = drop the tensor
    const char* needles[3];
  };
  const Case cases[] = {
      {"blk.1.time_mix_key.weight", {}, {"missing tensor", "blk.1.time_mix_key.weight", nullptr}},
      {"output.weight", {}, {"missing tensor", "output.weight", nullptr}},
      {"token_embd_norm.bias", {}, {"token_embd_norm.bias", nullptr, nullptr}},
      {"blk.1.time_mix_v1.weight", {}, {"blk.1.time_mix_v1.weight", nullptr, nullptr}},
      {"blk.0.time_mix_value.weight", {64, 32}, {"blk.0.time_mix_value.weight", "expected ne [64, 64]", "found [64, 32]"}},
      {"blk.1.time_mix_w2.weight", {64, 32}, {"blk.1.time_mix_w2.weight", "expected ne [32, 64]", "found [64, 32]"}},
      {"blk.1.channel_mix_value.weight", {64, 96}, {"blk.1.channel_mix_value.weight", "[96, 64]", "[64, 96]"}},
      {"blk.1.attn_norm.bias", {63}, {"blk.1.attn_norm.bias", "64 elements", "[63]"}},
      {"blk.0.time_mix_lerp_fused.weight", {64, 1, 1, 5}, {"time_mix_lerp_fused", "[64, 1, 1, 6]", "[64, 1, 1, 5]"}},
      {"blk.1.time_mix_r_k.weight", {128}, {"blk.1.time_mix_r_k.weight", "64 elements", nullptr}},
      {"output.weight", {64, 299}, {"output.weight", "[64, 300]", nullptr}},
      {"blk.1.time_mix_g1.weight", {64, 32}, {"blk.1.time_mix_g1.weight", "[64, 48]", "[64, 32]"}},
      {"blk.0.time_mix_key.weight", {64, 64, 2}, {"blk.0.time_mix_key.weight", "[64, 64]", "[64, 64, 2]"}},
  };
  int k = 0;
  for (const Case& c : cases) {
    const std::string target = c.target;
    const std::vector<int64_t> ne = c.ne;
    const Built b = build(Spec(), "loader-bad-" + std::to_string(k++) + ".gguf", [&](std::string& n, std::vector<int64_t>& e, DType& t) {
      if (n != target) return true;
      if (ne.empty()) return false;
      e = ne;
      if (t == DType::Q8_0) t = DType::F16;
      return true;
    });
    std::string msg;
    CHECK_MSG(load_status(b.path, &msg) == RWKVX_ERR_SHAPE, "%s: %s", c.target, msg.c_str());
    for (const char* n : c.needles) {
      if (n) CHECK_MSG(has(msg, n), "message '%s' lacks '%s'", msg.c_str(), n);
    }
    std::remove(b.path.c_str());
  }
}

TEST(metadata_checks) {
  std::string msg;
  {  // metadata disagrees with the shapes
    const Built b = build(Spec(), "meta-1.gguf", nullptr, [](GgufWriter& w) { w.set_u32("rwkv7.embedding_length", 128); });
    CHECK(load_status(b.path, &msg) == RWKVX_ERR_SHAPE);
    CHECK(has(msg, "rwkv7.embedding_length"));
    std::remove(b.path.c_str());
  }
  {
    const Built b = build(Spec(), "meta-2.gguf", nullptr, [](GgufWriter& w) { w.set_u32("rwkv7.attention.gate_lora_rank", 64); });
    CHECK(load_status(b.path, &msg) == RWKVX_ERR_SHAPE);
    CHECK(has(msg, "gate_lora_rank") && has(msg, "48"));
    std::remove(b.path.c_str());
  }
  {
    const Built b = build(Spec(), "meta-3.gguf", nullptr, [](GgufWriter& w) { w.set_u32("rwkv7.feed_forward_length", 100); });
    CHECK(load_status(b.path, &msg) == RWKVX_ERR_SHAPE);
    std::remove(b.path.c_str());
  }
  {  // fewer blocks declared than present, and more
    const Built b = build(Spec(), "meta-4.gguf", nullptr, [](GgufWriter& w) { w.set_u32("rwkv7.block_count", 1); });
    CHECK(load_status(b.path, &msg) == RWKVX_ERR_SHAPE);
    CHECK(has(msg, "more blocks"));
    std::remove(b.path.c_str());
    const Built c = build(Spec(), "meta-5.gguf", nullptr, [](GgufWriter& w) { w.set_u32("rwkv7.block_count", 3); });
    CHECK(load_status(c.path, &msg) == RWKVX_ERR_SHAPE);
    CHECK(has(msg, "blk.2."));
    std::remove(c.path.c_str());
    const Built d = build(Spec(), "meta-6.gguf", nullptr, [](GgufWriter& w) { w.set_u32("rwkv7.block_count", 4000000); });
    CHECK(load_status(d.path, &msg) == RWKVX_ERR_SHAPE);
    std::remove(d.path.c_str());
  }
  {  // head size must divide C
    const Built b = build(Spec(), "meta-7.gguf", nullptr, [](GgufWriter& w) { w.set_u32("rwkv7.wkv.head_size", 48); });
    CHECK(load_status(b.path, &msg) == RWKVX_ERR_SHAPE);
    std::remove(b.path.c_str());
  }
  {  // unknown architecture, missing architecture, unknown tokenizer model
    const Built b = build(Spec(), "meta-8.gguf", nullptr, [](GgufWriter& w) { w.set_str("general.architecture", "llama"); });
    CHECK(load_status(b.path, &msg) == RWKVX_ERR_UNSUPPORTED);
    CHECK(has(msg, "llama"));
    std::remove(b.path.c_str());
    const Built c = build(Spec(), "meta-9.gguf", nullptr, [](GgufWriter& w) { w.set_str("tokenizer.ggml.model", "gpt2"); });
    CHECK(load_status(c.path, &msg) == RWKVX_ERR_UNSUPPORTED);
    std::remove(c.path.c_str());
  }
  {  // more tokens than embedding rows
    Spec s;
    s.n_tokens = 301;
    const Built b = build(s, "meta-10.gguf");
    CHECK(load_status(b.path, &msg) == RWKVX_ERR_SHAPE);
    CHECK(has(msg, "301"));
    std::remove(b.path.c_str());
  }
  {  // a required key missing
    GgufWriter w;
    w.set_str("general.architecture", "rwkv7");
    const std::string p = scratch("meta-11.gguf");
    w.write(p);
    CHECK(load_status(p, &msg) == RWKVX_ERR_SHAPE);
    CHECK(has(msg, "token_embd.weight"));
    std::remove(p.c_str());
  }
  CHECK(load_status("/nonexistent/model.gguf") == RWKVX_ERR_IO);
}

TEST(rwkvx_blocks_and_placement) {
  Spec s;
  s.arch = "rwkvx";
  s.L = 4;
  s.NA = 2;
  {
    const Built b = build(s, "x-default.gguf");
    auto m = load_model(b.path, true);
    CHECK(m->hp.arch == Arch::RwkvX && m->hp.n_attn == 2 && m->attn.size() == 2);
    CHECK((m->hp.attn_after == std::vector<int>{1, 3}));  // groups of L/N_A
    CHECK(m->hp.attn_chunk == 16 && m->hp.attn_top_k == 2);
    CHECK(same(m->attn[1].ln2_b, b.values.at("moba.1.attn_norm_2.bias")));
    CHECK(same(m->attn[0].ffn_x_k, b.values.at("moba.0.channel_mix_lerp_k.weight")));
    CHECK(m->attn[0].ffn_key.ne[1] == 128 && m->attn[0].ffn_value.ne[0] == 128);  // its own FFN width
    CHECK(same(tensor_to_f32(m->attn[1].wo), b.values.at("moba.1.attn_output.weight")));
    std::remove(b.path.c_str());
  }
  {
    Spec e = s;
    e.after = {0, 0};
    const Built b = build(e, "x-explicit.gguf");
    CHECK((load_model(b.path, true)->hp.attn_after == std::vector<int>{0, 0}));
    std::remove(b.path.c_str());
  }
  std::string msg;
  for (const std::vector<int32_t>& bad : {std::vector<int32_t>{1}, {3, 1}, {0, 4}, {-1, 2}}) {
    Spec e = s;
    e.after = bad;
    const Built b = build(e, "x-badafter.gguf");
    CHECK(load_status(b.path, &msg) == RWKVX_ERR_SHAPE);
    CHECK(has(msg, "after_block"));
    std::remove(b.path.c_str());
  }
  {  // 3 attention blocks over 4 RWKV blocks: no default placement
    Spec e = s;
    e.NA = 3;
    const Built b = build(e, "x-uneven.gguf");
    CHECK(load_status(b.path, &msg) == RWKVX_ERR_SHAPE);
    CHECK(has(msg, "after_block"));
    std::remove(b.path.c_str());
  }
  {  // a missing attention tensor is named
    const Built b = build(s, "x-missing.gguf", [](std::string& n, std::vector<int64_t>&, DType&) { return n != "moba.1.attn_k.weight"; });
    CHECK(load_status(b.path, &msg) == RWKVX_ERR_SHAPE);
    CHECK(has(msg, "moba.1.attn_k.weight"));
    std::remove(b.path.c_str());
  }
  {  // metadata says fewer attention blocks than the file holds
    const Built b = build(s, "x-extra.gguf", nullptr, [](GgufWriter& w) { w.set_u32("rwkvx.attention.block_count", 1); });
    CHECK(load_status(b.path, &msg) == RWKVX_ERR_SHAPE);
    std::remove(b.path.c_str());
  }
}

TEST_MAIN
