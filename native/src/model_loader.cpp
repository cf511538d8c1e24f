// Loads a GGUF model of architecture "rwkv7" (llama.cpp's names and metadata)
// or "rwkvx" (the same under the rwkvx. prefix, plus moba.{j}.* attention
// blocks; see docs/gguf-rwkvx.md) and validates every tensor's shape.
#include <cstring>
#include <string>

#include "error.h"
#include "gguf.h"
#include "model.h"
#include "quant.h"

namespace rwkvx {

namespace {

std::string shape_str(const TensorView& t) {
  std::string s = "[";
  for (int d = 0; d < t.n_dims; ++d) {
    if (d) s += ", ";
    s += std::to_string(t.ne[d]);
  }
  return s + "]";
}

std::string shape_str(std::initializer_list<int64_t> ne) {
  std::string s = "[";
  bool first = true;
  for (int64_t d : ne) {
    if (!first) s += ", ";
    s += std::to_string(d);
    first = false;
  }
  return s + "]";
}

// FNV-1a, 64 bit: a stable fingerprint across builds and machines.
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void bytes(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 1099511628211ull;
    }
  }
  void i64(int64_t v) { bytes(&v, sizeof v); }
  void str(const std::string& s) {
    i64(static_cast<int64_t>(s.size()));
    bytes(s.data(), s.size());
  }
};

class Loader {
 public:
  Loader(const GgufReader& g, const std::string& path, const std::string& arch) : g_(g), path_(path), arch_(arch) {}

  const TensorView& need(const std::string& name) const {
    const TensorView* t = g_.find(name);
    if (t == nullptr) fail(RWKVX_ERR_SHAPE, "%s: missing tensor '%s'", path_.c_str(), name.c_str());
    return *t;
  }
  bool has(const std::string& name) const { return g_.find(name) != nullptr; }

  // A vector of n elements stored in any shape with that element count
  // ([C], [1,1,C], [C,1,1], ...), converted to fp32.
  std::vector<float> vec(const std::string& name, int64_t n) const {
    const TensorView& t = need(name);
    if (t.nelements() != n) {
      fail(RWKVX_ERR_SHAPE, "%s: tensor '%s': expected %lld elements (ne [%lld]), found ne %s", path_.c_str(), name.c_str(),
           static_cast<long long>(n), static_cast<long long>(n), shape_str(t).c_str());
    }
    return tensor_to_f32(t);
  }

  // A matrix with ne = [in, out] (row-major [out][in]).
  TensorView mat(const std::string& name, int64_t in, int64_t out) const {
    const TensorView& t = need(name);
    if (t.ne[0] != in || t.ne[1] != out || t.ne[2] != 1 || t.ne[3] != 1) {
      fail(RWKVX_ERR_SHAPE, "%s: tensor '%s': expected ne %s, found %s", path_.c_str(), name.c_str(), shape_str({in, out}).c_str(),
           shape_str(t).c_str());
    }
    return t;
  }

  // Hyper-parameter from metadata `<arch>.<key>`; required when def < 0.
  int64_t meta_int(const std::string& key, int64_t def) const {
    const std::string full = arch_ + "." + key;
    if (g_.get(full) == nullptr) {
      if (def < 0) fail(RWKVX_ERR_SHAPE, "%s: missing metadata '%s'", path_.c_str(), full.c_str());
      return def;
    }
    const int64_t v = g_.get_int(full, def);
    if (v < 0 || v > INT32_MAX) fail(RWKVX_ERR_SHAPE, "%s: metadata '%s' = %lld is out of range", path_.c_str(), full.c_str(), static_cast<long long>(v));
    return v;
  }

  // Cross-check an optional metadata value against what the tensors say.
  void check_meta(const std::string& key, int64_t found_in_tensors, const std::string& tensor) const {
    const std::string full = arch_ + "." + key;
    if (g_.get(full) == nullptr) return;
    const int64_t v = g_.get_int(full, 0);
    if (v != found_in_tensors) {
      fail(RWKVX_ERR_SHAPE, "%s: metadata '%s' = %lld but tensor '%s' implies %lld", path_.c_str(), full.c_str(),
           static_cast<long long>(v), tensor.c_str(), static_cast<long long>(found_in_tensors));
    }
  }

  const std::string& path() const { return path_; }

 private:
  const GgufReader& g_;
  std::string path_;
  std::string arch_;
};

void load_rwkv_layer(const Loader& ld, const HParams& hp, int i, Rwkv7Layer& L) {
  const int64_t C = hp.n_embd, F = hp.n_ffn;
  const std::string p = "blk." + std::to_string(i) + ".";
  L.ln1_w = ld.vec(p + "attn_norm.weight", C);
  L.ln1_b = ld.vec(p + "attn_norm.bias", C);
  L.ln2_w = ld.vec(p + "attn_norm_2.weight", C);
  L.ln2_b = ld.vec(p + "attn_norm_2.bias", C);

  // Six token-shift mixes stacked in the order r, w, k, v, a, g (ne [C,1,1,6]).
  const std::string lerp = p + "time_mix_lerp_fused.weight";
  const TensorView& lf = ld.need(lerp);
  if (lf.ne[0] != C || lf.nelements() != 6 * C) {
    fail(RWKVX_ERR_SHAPE, "%s: tensor '%s': expected ne %s, found %s", ld.path().c_str(), lerp.c_str(),
         shape_str({C, 1, 1, 6}).c_str(), shape_str(lf).c_str());
  }
  const std::vector<float> mix = tensor_to_f32(lf);
  std::vector<float>* dst[6] = {&L.x_r, &L.x_w, &L.x_k, &L.x_v, &L.x_a, &L.x_g};
  for (int j = 0; j < 6; ++j) dst[j]->assign(mix.begin() + j * C, mix.begin() + (j + 1) * C);

  L.w0 = ld.vec(p + "time_mix_w0.weight", C);
  L.w1 = ld.mat(p + "time_mix_w1.weight", C, hp.lora_w);
  L.w2 = ld.mat(p + "time_mix_w2.weight", hp.lora_w, C);
  L.a0 = ld.vec(p + "time_mix_a0.weight", C);
  L.a1 = ld.mat(p + "time_mix_a1.weight", C, hp.lora_a);
  L.a2 = ld.mat(p + "time_mix_a2.weight", hp.lora_a, C);
  // Layer 0 never uses v0/v1/v2 (v_first is set there); files may omit them
  // or carry a copy of a0/a1/a2 (llama.cpp), whose rank may differ.
  if (i == 0) {
    if (ld.has(p + "time_mix_v0.weight")) L.v0 = ld.vec(p + "time_mix_v0.weight", C);
    if (ld.has(p + "time_mix_v1.weight") && ld.has(p + "time_mix_v2.weight")) {
      const TensorView& v1 = ld.need(p + "time_mix_v1.weight");
      L.v1 = ld.mat(p + "time_mix_v1.weight", C, v1.ne[1]);
      L.v2 = ld.mat(p + "time_mix_v2.weight", v1.ne[1], C);
    }
  } else {
    L.v0 = ld.vec(p + "time_mix_v0.weight", C);
    L.v1 = ld.mat(p + "time_mix_v1.weight", C, hp.lora_v);
    L.v2 = ld.mat(p + "time_mix_v2.weight", hp.lora_v, C);
  }
  L.g1 = ld.mat(p + "time_mix_g1.weight", C, hp.lora_g);
  L.g2 = ld.mat(p + "time_mix_g2.weight", hp.lora_g, C);
  L.k_k = ld.vec(p + "time_mix_k_k.weight", C);
  L.k_a = ld.vec(p + "time_mix_k_a.weight", C);
  L.r_k = ld.vec(p + "time_mix_r_k.weight", C);
  L.wr = ld.mat(p + "time_mix_receptance.weight", C, C);
  L.wk = ld.mat(p + "time_mix_key.weight", C, C);
  L.wv = ld.mat(p + "time_mix_value.weight", C, C);
  L.wo = ld.mat(p + "time_mix_output.weight", C, C);
  L.lnx_w = ld.vec(p + "time_mix_ln.weight", C);
  L.lnx_b = ld.vec(p + "time_mix_ln.bias", C);
  L.ffn_x_k = ld.vec(p + "channel_mix_lerp_k.weight", C);
  L.ffn_key = ld.mat(p + "channel_mix_key.weight", C, F);
  L.ffn_value = ld.mat(p + "channel_mix_value.weight", F, C);
}

void load_attn_layer(const Loader& ld, const HParams& hp, int j, AttnLayer& A) {
  const int64_t C = hp.n_embd;
  const std::string p = "moba." + std::to_string(j) + ".";
  A.ln1_w = ld.vec(p + "attn_norm.weight", C);
  A.ln1_b = ld.vec(p + "attn_norm.bias", C);
  A.ln2_w = ld.vec(p + "attn_norm_2.weight", C);
  A.ln2_b = ld.vec(p + "attn_norm_2.bias", C);
  A.wq = ld.mat(p + "attn_q.weight", C, C);
  A.wk = ld.mat(p + "attn_k.weight", C, C);
  A.wv = ld.mat(p + "attn_v.weight", C, C);
  A.wo = ld.mat(p + "attn_output.weight", C, C);
  A.ffn_x_k = ld.vec(p + "channel_mix_lerp_k.weight", C);
  // The attention block's channel mix has its own width (4C in released models).
  const TensorView& key = ld.need(p + "channel_mix_key.weight");
  const int64_t Fa = key.ne[1];
  A.ffn_key = ld.mat(p + "channel_mix_key.weight", C, Fa);
  A.ffn_value = ld.mat(p + "channel_mix_value.weight", Fa, C);
}

// LoRA rank from a tensor with ne = [C, rank].
int lora_rank(const Loader& ld, const std::string& name, int64_t C) {
  const TensorView& t = ld.need(name);
  if (t.ne[0] != C || t.ne[1] <= 0 || t.ne[1] > INT32_MAX || t.ne[2] != 1 || t.ne[3] != 1) {
    fail(RWKVX_ERR_SHAPE, "%s: tensor '%s': expected ne [%lld, rank], found %s", ld.path().c_str(), name.c_str(),
         static_cast<long long>(C), shape_str(t).c_str());
  }
  return static_cast<int>(t.ne[1]);
}

}  // namespace

std::unique_ptr<Model> load_model(const std::string& path, bool use_mmap) {
  auto m = std::make_unique<Model>();
  m->file = GgufReader::open(path, use_mmap);
  const GgufReader& g = *m->file;

  const std::string arch = g.get_str("general.architecture", "");
  HParams& hp = m->hp;
  if (arch == "rwkv7") {
    hp.arch = Arch::Rwkv7;
  } else if (arch == "rwkvx") {
    hp.arch = Arch::RwkvX;
  } else if (arch.empty()) {
    fail(RWKVX_ERR_FORMAT, "%s: no general.architecture in the metadata", path.c_str());
  } else {
    fail(RWKVX_ERR_UNSUPPORTED, "%s: architecture '%s' is not supported (rwkv7 or rwkvx)", path.c_str(), arch.c_str());
  }
  const Loader ld(g, path, arch);
  m->name = g.get_str("general.name", "");

  // Global tensors: the embedding fixes C and V.
  const TensorView& emb = ld.need("token_embd.weight");
  if (emb.n_dims > 2 || emb.ne[0] <= 0 || emb.ne[1] <= 0 || emb.ne[0] > INT32_MAX || emb.ne[1] > INT32_MAX) {
    fail(RWKVX_ERR_SHAPE, "%s: tensor 'token_embd.weight': expected ne [C, V], found %s", path.c_str(), shape_str(emb).c_str());
  }
  hp.n_embd = static_cast<int>(emb.ne[0]);
  hp.n_vocab = static_cast<int>(emb.ne[1]);
  const int64_t C = hp.n_embd;
  const int64_t C_meta = ld.meta_int("embedding_length", -1);
  if (C_meta != C) {
    fail(RWKVX_ERR_SHAPE, "%s: metadata '%s.embedding_length' = %lld but token_embd.weight has ne [%lld, %d]", path.c_str(),
         arch.c_str(), static_cast<long long>(C_meta), static_cast<long long>(C), hp.n_vocab);
  }
  hp.n_layer = static_cast<int>(ld.meta_int("block_count", -1));
  if (hp.n_layer <= 0) fail(RWKVX_ERR_SHAPE, "%s: metadata '%s.block_count' is 0", path.c_str(), arch.c_str());
  if (static_cast<size_t>(hp.n_layer) > g.tensors().size()) {
    fail(RWKVX_ERR_SHAPE, "%s: metadata '%s.block_count' = %d but the file has only %zu tensors", path.c_str(), arch.c_str(),
         hp.n_layer, g.tensors().size());
  }
  hp.head_size = static_cast<int>(ld.meta_int("wkv.head_size", 64));
  if (hp.head_size <= 0 || C % hp.head_size != 0) {
    fail(RWKVX_ERR_SHAPE, "%s: embedding width %lld is not a multiple of the head size %d", path.c_str(), static_cast<long long>(C),
         hp.head_size);
  }
  hp.n_head = static_cast<int>(C / hp.head_size);
  hp.ln_eps = static_cast<float>(g.get_float(arch + ".attention.layer_norm_epsilon", 1e-5));
  if (!(hp.ln_eps > 0.f && hp.ln_eps < 1.f)) fail(RWKVX_ERR_SHAPE, "%s: layer-norm epsilon %g out of range", path.c_str(), hp.ln_eps);
  hp.lnx_eps = 64e-5f;  // GroupNorm eps of the time-mix output; llama.cpp hard-codes it too
  hp.context_length = ld.meta_int("context_length", 1048576);

  // Widths and LoRA ranks from the shapes of the first block.
  const TensorView& ffn_key0 = ld.need("blk.0.channel_mix_key.weight");
  if (ffn_key0.ne[1] <= 0 || ffn_key0.ne[1] > INT32_MAX) {
    fail(RWKVX_ERR_SHAPE, "%s: tensor 'blk.0.channel_mix_key.weight': bad shape %s", path.c_str(), shape_str(ffn_key0).c_str());
  }
  hp.n_ffn = static_cast<int>(ffn_key0.ne[1]);
  ld.check_meta("feed_forward_length", hp.n_ffn, "blk.0.channel_mix_key.weight");
  hp.lora_w = lora_rank(ld, "blk.0.time_mix_w1.weight", C);
  hp.lora_a = lora_rank(ld, "blk.0.time_mix_a1.weight", C);
  hp.lora_g = lora_rank(ld, "blk.0.time_mix_g1.weight", C);
  // Layer 0's v LoRA is unused (maybe absent or a copy of a): take v's rank from layer 1.
  hp.lora_v = hp.n_layer > 1 ? lora_rank(ld, "blk.1.time_mix_v1.weight", C) : 0;
  ld.check_meta("attention.decay_lora_rank", hp.lora_w, "blk.0.time_mix_w1.weight");
  ld.check_meta("attention.iclr_lora_rank", hp.lora_a, "blk.0.time_mix_a1.weight");
  if (hp.n_layer > 1) ld.check_meta("attention.value_residual_mix_lora_rank", hp.lora_v, "blk.1.time_mix_v1.weight");
  ld.check_meta("attention.gate_lora_rank", hp.lora_g, "blk.0.time_mix_g1.weight");

  m->ln0_w = ld.vec("token_embd_norm.weight", C);
  m->ln0_b = ld.vec("token_embd_norm.bias", C);
  m->lnout_w = ld.vec("output_norm.weight", C);
  m->lnout_b = ld.vec("output_norm.bias", C);
  m->emb = emb;
  m->head = ld.mat("output.weight", C, hp.n_vocab);

  m->layers.resize(static_cast<size_t>(hp.n_layer));
  for (int i = 0; i < hp.n_layer; ++i) load_rwkv_layer(ld, hp, i, m->layers[static_cast<size_t>(i)]);
  if (ld.has("blk." + std::to_string(hp.n_layer) + ".attn_norm.weight")) {
    fail(RWKVX_ERR_SHAPE, "%s: the file has more blocks than %s.block_count = %d", path.c_str(), arch.c_str(), hp.n_layer);
  }

  if (hp.arch == Arch::RwkvX) {
    hp.n_attn = static_cast<int>(ld.meta_int("attention.block_count", -1));
    if (static_cast<size_t>(hp.n_attn) > g.tensors().size()) {
      fail(RWKVX_ERR_SHAPE, "%s: metadata '%s.attention.block_count' = %d but the file has only %zu tensors", path.c_str(),
           arch.c_str(), hp.n_attn, g.tensors().size());
    }
    hp.attn_chunk = static_cast<int>(ld.meta_int("attention.chunk_size", 2048));
    hp.attn_top_k = static_cast<int>(ld.meta_int("attention.top_k", 3));
    if (hp.attn_chunk <= 0) fail(RWKVX_ERR_SHAPE, "%s: %s.attention.chunk_size must be positive", path.c_str(), arch.c_str());
    if (hp.attn_top_k <= 0) fail(RWKVX_ERR_SHAPE, "%s: %s.attention.top_k must be positive", path.c_str(), arch.c_str());
    hp.attn_after.clear();
    const std::string after_key = arch + ".attention.after_block";
    if (const GgufValue* v = g.get(after_key)) {
      if (v->type != GgufType::ARRAY || v->elem_type == GgufType::STRING || v->elem_type == GgufType::ARRAY ||
          v->elem_type == GgufType::F32 || v->elem_type == GgufType::F64) {
        fail(RWKVX_ERR_SHAPE, "%s: metadata '%s' must be an integer array", path.c_str(), after_key.c_str());
      }
      if (v->arr_i.size() != static_cast<size_t>(hp.n_attn)) {
        fail(RWKVX_ERR_SHAPE, "%s: metadata '%s' has %zu entries for %d attention blocks", path.c_str(), after_key.c_str(),
             v->arr_i.size(), hp.n_attn);
      }
      for (size_t j = 0; j < v->arr_i.size(); ++j) {
        const int64_t a = v->arr_i[j];
        if (a < 0 || a >= hp.n_layer || (j > 0 && a < v->arr_i[j - 1])) {
          fail(RWKVX_ERR_SHAPE, "%s: metadata '%s'[%zu] = %lld: must be a block index in 0..%d, non-decreasing", path.c_str(),
               after_key.c_str(), j, static_cast<long long>(a), hp.n_layer - 1);
        }
        hp.attn_after.push_back(static_cast<int>(a));
      }
    } else if (hp.n_attn > 0) {
      // Default: RWKV blocks in groups of L / N_A, one attention block after each group.
      if (hp.n_layer % hp.n_attn != 0) {
        fail(RWKVX_ERR_SHAPE, "%s: %d blocks cannot be split into %d equal groups and '%s' is absent", path.c_str(), hp.n_layer,
             hp.n_attn, after_key.c_str());
      }
      const int group = hp.n_layer / hp.n_attn;
      for (int j = 0; j < hp.n_attn; ++j) hp.attn_after.push_back((j + 1) * group - 1);
    }
    m->attn.resize(static_cast<size_t>(hp.n_attn));
    for (int j = 0; j < hp.n_attn; ++j) load_attn_layer(ld, hp, j, m->attn[static_cast<size_t>(j)]);
    if (ld.has("moba." + std::to_string(hp.n_attn) + ".attn_norm.weight")) {
      fail(RWKVX_ERR_SHAPE, "%s: the file has more attention blocks than %s.attention.block_count = %d", path.c_str(), arch.c_str(),
           hp.n_attn);
    }
  } else {
    hp.attn_chunk = 0;
    hp.attn_top_k = 0;
  }

  // Tokenizer: llama.cpp's rwkv token list (escaped bytes, <s> first, [PADn] padding).
  const std::string tok_model = g.get_str("tokenizer.ggml.model", "rwkv");
  if (tok_model != "rwkv") {
    fail(RWKVX_ERR_UNSUPPORTED, "%s: tokenizer model '%s' is not supported (rwkv)", path.c_str(), tok_model.c_str());
  }
  const GgufValue* toks = g.get("tokenizer.ggml.tokens");
  if (toks == nullptr) fail(RWKVX_ERR_FORMAT, "%s: no tokenizer.ggml.tokens in the metadata", path.c_str());
  if (toks->type != GgufType::ARRAY || toks->elem_type != GgufType::STRING) {
    fail(RWKVX_ERR_FORMAT, "%s: tokenizer.ggml.tokens is not a string array", path.c_str());
  }
  if (toks->arr_str.size() > static_cast<size_t>(hp.n_vocab)) {
    fail(RWKVX_ERR_SHAPE, "%s: the tokenizer has %zu tokens but the embedding only %d rows", path.c_str(), toks->arr_str.size(),
         hp.n_vocab);
  }
  m->tokenizer.build_from_escaped(toks->arr_str);

  // Totals and the fingerprint (architecture, hyper-parameters, every tensor's
  // name, type and shape), for state blobs and caches.
  Fnv fp;
  fp.str(arch);
  const int64_t hv[] = {hp.n_embd, hp.n_layer, hp.n_head, hp.head_size, hp.n_ffn, hp.n_vocab, hp.lora_w, hp.lora_a,
                        hp.lora_v, hp.lora_g, hp.n_attn, hp.attn_chunk, hp.attn_top_k};
  for (int64_t v : hv) fp.i64(v);
  fp.bytes(&hp.ln_eps, sizeof hp.ln_eps);
  for (int a : hp.attn_after) fp.i64(a);
  for (const TensorView& t : g.tensors()) {
    fp.str(t.name);
    fp.i64(static_cast<int64_t>(t.type));
    for (int d = 0; d < 4; ++d) fp.i64(t.ne[d]);
    m->weight_bytes += t.nbytes;
    m->n_params += t.nelements();
  }
  m->fingerprint = fp.h;
  return m;
}

}  // namespace rwkvx
