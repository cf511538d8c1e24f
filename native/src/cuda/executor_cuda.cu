// The CUDA executor: the forward pass of executor_cpu.cpp with every op on the
// GPU, the recurrent state (same layout as the CPU's, so snapshots are plain
// copies) and the paged KV cache in device memory. Decode steps (T = 1) are
// captured once into a CUDA graph whose inputs (token, position, page table)
// live in device memory, then replayed.
//
// Memory: the backend uploads all weights at model load; a session allocates
// its state, a workspace sized for its largest chunk and KV pages as the
// context grows. Every allocation a forward call needs is made before its
// first kernel, so running out of memory fails the call with
// RWKVX_ERR_OUT_OF_MEMORY and leaves the session as it was.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common.cuh"
#include "cuda_backend.h"
#include "model.h"

namespace rwkvx {
namespace cuda {

namespace {

bool env_off(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && (std::strcmp(v, "0") == 0 || std::strcmp(v, "off") == 0);
}

// Owned device allocation.
struct DevBuf {
  void* p = nullptr;
  size_t n = 0;
  DevBuf() = default;
  DevBuf(size_t bytes, const char* what) : p(dev_alloc(bytes, what)), n(bytes) {}
  DevBuf(DevBuf&& o) noexcept : p(o.p), n(o.n) { o.p = nullptr; o.n = 0; }
  DevBuf& operator=(DevBuf&& o) noexcept {
    if (this != &o) { dev_free(p); p = o.p; n = o.n; o.p = nullptr; o.n = 0; }
    return *this;
  }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  ~DevBuf() { dev_free(p); }
  float* f() const { return static_cast<float*>(p); }
};

// fp32 vectors of one layer packed into one allocation.
struct VecPack {
  std::vector<float> host;
  std::vector<size_t> off;
  int add(const std::vector<float>& v) {
    off.push_back(host.size());
    host.insert(host.end(), v.begin(), v.end());
    host.resize((host.size() + 3) / 4 * 4);  // keep 16-byte alignment
    return static_cast<int>(off.size() - 1);
  }
  DevBuf upload(const char* what) const {
    DevBuf b(host.size() * 4, what);
    to_device(b.p, host.data(), host.size() * 4);
    return b;
  }
};

struct OwnedMat {
  DevMat m;
  OwnedMat() = default;
  OwnedMat(OwnedMat&& o) noexcept : m(o.m) { o.m = DevMat{}; }
  OwnedMat& operator=(OwnedMat&& o) noexcept {
    if (this != &o) { free_matrix(m); m = o.m; o.m = DevMat{}; }
    return *this;
  }
  ~OwnedMat() { free_matrix(m); }
};

enum LayerVec { kLn1W, kLn1B, kLn2W, kLn2B, kXr, kXw, kXk, kXv, kXa, kXg, kW0, kA0, kV0, kKk, kKa, kRk, kLnxW, kLnxB, kFfnXk, kLayerVecs };
enum AttnVec { kALn1W, kALn1B, kALn2W, kALn2B, kAFfnXk, kAttnVecs };

struct DevLayer {
  OwnedMat w1, w2, a1, a2, v1, v2, g1, g2, wr, wk, wv, wo, key, value;
  bool has_v = false;
  DevBuf vecs;
  std::vector<size_t> off;
  const float* vec(int i) const { return vecs.f() + off[static_cast<size_t>(i)]; }
};

struct DevAttn {
  OwnedMat wq, wk, wv, wo, key, value;
  DevBuf vecs;
  std::vector<size_t> off;
  const float* vec(int i) const { return vecs.f() + off[static_cast<size_t>(i)]; }
};

struct DevModel {
  int device = 0;
  OwnedMat emb, head;
  DevBuf gvecs;  // ln0 w, b, ln_out w, b
  int64_t C = 0;
  std::vector<DevLayer> layers;
  std::vector<DevAttn> attn;
  size_t bytes = 0;
  int64_t max_ffn = 0, max_lora = 0;
};

OwnedMat up(const TensorView& t, const std::string& what, size_t& total) {
  OwnedMat o;
  o.m = upload_matrix(t, what.c_str());
  total += o.m.bytes();
  return o;
}

void upload_model(const Model& md, DevModel& dm) {
  const HParams& hp = md.hp;
  dm.C = hp.n_embd;
  dm.emb = up(md.emb, "token_embd", dm.bytes);
  dm.head = up(md.head, "output", dm.bytes);
  VecPack g;
  g.add(md.ln0_w); g.add(md.ln0_b); g.add(md.lnout_w); g.add(md.lnout_b);
  dm.gvecs = g.upload("norms");
  dm.layers.resize(md.layers.size());
  for (size_t l = 0; l < md.layers.size(); ++l) {
    const Rwkv7Layer& L = md.layers[l];
    DevLayer& D = dm.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    D.w1 = up(L.w1, p + "w1", dm.bytes); D.w2 = up(L.w2, p + "w2", dm.bytes);
    D.a1 = up(L.a1, p + "a1", dm.bytes); D.a2 = up(L.a2, p + "a2", dm.bytes);
    D.has_v = l > 0 && L.v1.data != nullptr && L.v2.data != nullptr;
    if (D.has_v) { D.v1 = up(L.v1, p + "v1", dm.bytes); D.v2 = up(L.v2, p + "v2", dm.bytes); }
    D.g1 = up(L.g1, p + "g1", dm.bytes); D.g2 = up(L.g2, p + "g2", dm.bytes);
    D.wr = up(L.wr, p + "receptance", dm.bytes); D.wk = up(L.wk, p + "key", dm.bytes);
    D.wv = up(L.wv, p + "value", dm.bytes); D.wo = up(L.wo, p + "output", dm.bytes);
    D.key = up(L.ffn_key, p + "ffn key", dm.bytes); D.value = up(L.ffn_value, p + "ffn value", dm.bytes);
    VecPack v;
    for (const std::vector<float>* x : {&L.ln1_w, &L.ln1_b, &L.ln2_w, &L.ln2_b, &L.x_r, &L.x_w, &L.x_k, &L.x_v, &L.x_a,
                                        &L.x_g, &L.w0, &L.a0, &L.v0, &L.k_k, &L.k_a, &L.r_k, &L.lnx_w, &L.lnx_b, &L.ffn_x_k}) {
      if (x->empty()) v.add(std::vector<float>(static_cast<size_t>(hp.n_embd), 0.f));  // layer 0's absent v0
      else v.add(*x);
    }
    D.vecs = v.upload("layer vectors");
    D.off = v.off;
    dm.bytes += v.host.size() * 4;
    dm.max_ffn = std::max(dm.max_ffn, L.ffn_key.rows());
    for (const TensorView* t : {&L.w1, &L.a1, &L.v1, &L.g1})
      if (t->data) dm.max_lora = std::max(dm.max_lora, t->rows());
  }
  dm.attn.resize(md.attn.size());
  for (size_t j = 0; j < md.attn.size(); ++j) {
    const AttnLayer& A = md.attn[j];
    DevAttn& D = dm.attn[j];
    const std::string p = "moba." + std::to_string(j) + ".";
    D.wq = up(A.wq, p + "q", dm.bytes); D.wk = up(A.wk, p + "k", dm.bytes);
    D.wv = up(A.wv, p + "v", dm.bytes); D.wo = up(A.wo, p + "output", dm.bytes);
    D.key = up(A.ffn_key, p + "ffn key", dm.bytes); D.value = up(A.ffn_value, p + "ffn value", dm.bytes);
    VecPack v;
    for (const std::vector<float>* x : {&A.ln1_w, &A.ln1_b, &A.ln2_w, &A.ln2_b, &A.ffn_x_k}) v.add(*x);
    D.vecs = v.upload("attention vectors");
    D.off = v.off;
    dm.bytes += v.host.size() * 4;
    dm.max_ffn = std::max(dm.max_ffn, A.ffn_key.rows());
  }
}

// ------------------------------------------------------------------ KV pages
struct Page {
  void* p = nullptr;
  explicit Page(size_t bytes) : p(dev_alloc(bytes, "KV cache page")) {}
  ~Page() { dev_free(p); }
  Page(const Page&) = delete;
  Page& operator=(const Page&) = delete;
};

struct KvBlock {
  std::vector<std::shared_ptr<Page>> pages;
  DevBuf table;  // device array of page pointers
  int64_t table_cap = 0;
  bool dirty = true;
};

// ------------------------------------------------------------------ workspace
struct Workspace {
  int64_t cap = 0, cap_rows = 0;
  DevBuf h, x, xr, xw, xk, xv, xa, xg, r, k, v, wl, al, vl, g, w, ain, b, vfirst, y, lw, la, lv, lg, ffn, wkv, moba,
      logits, xo, tokens, pos;
  int moba_splits = 1;
};

class CudaExecutor;

class CudaBackend final : public ExecutorFactory {
 public:
  CudaBackend(const Model& model, int device) : model_(model) {
    dm_.device = device;
    upload_model(model, dm_);
  }
  std::unique_ptr<Executor> make(const Model& model, Runtime& rt, rwkvx_kv_type kv_type) override;
  const DevModel& dm() const { return dm_; }

 private:
  const Model& model_;
  DevModel dm_;
};

class CudaExecutor final : public Executor {
 public:
  CudaExecutor(const Model& model, const DevModel& dm, bool f16kv)
      : model_(model), dm_(dm), layout_(state_layout(model.hp)), f16kv_(f16kv) {
    set_device(dm.device);
    stream_ = stream_create();
    try {
      state_ = DevBuf(static_cast<size_t>(layout_.size()) * 4, "recurrent state");
      kv_.resize(static_cast<size_t>(model.hp.n_attn));
      if (cudaMallocHost(&pinned_, static_cast<size_t>(model.hp.n_vocab) * 4 + 64) != cudaSuccess) {
        cudaGetLastError();
        pinned_ = nullptr;
      }
      use_graphs_ = !env_off("RWKVX_CUDA_GRAPHS");
      ensure_workspace(1, 1);
      reset();
    } catch (...) {
      release();
      throw;
    }
  }
  ~CudaExecutor() override { release(); }

  void forward(const int32_t* tokens, int64_t T, int64_t pos0, float* logits, bool all_logits) override;

  void reset() override {
    set_device(dm_.device);
    dev_fill(state_.p, 0, state_.n, stream_);
    stream_sync(stream_);
    for (auto& b : kv_) { b.pages.clear(); b.dirty = true; }
    n_kv_ = 0;
  }

  void truncate_kv(int64_t n) override {
    if (model_.hp.n_attn == 0) return;
    if (n < 0 || n > n_kv_) fail(RWKVX_ERR_INVALID_ARGUMENT, "KV truncate to %lld outside [0, %lld]", (long long)n, (long long)n_kv_);
    if (n == n_kv_) return;
    set_device(dm_.device);
    const int64_t B = model_.hp.attn_chunk, keep = (n + B - 1) / B, rows = n % B;
    for (auto& b : kv_) {
      b.pages.resize(static_cast<size_t>(keep));
      b.dirty = true;
      if (rows != 0) {
        make_private(b, keep - 1);
        kv_page_resum(b.pages[static_cast<size_t>(keep - 1)]->p, rows, B, dm_.C, f16kv_, stream_);
      }
    }
    stream_sync(stream_);
    n_kv_ = n;
  }

  std::unique_ptr<Executor> fork() const override {
    set_device(dm_.device);
    stream_sync(stream_);
    std::unique_ptr<CudaExecutor> f(new CudaExecutor(model_, dm_, f16kv_));
    dev_copy(f->state_.p, state_.p, state_.n, f->stream_);
    stream_sync(f->stream_);
    for (size_t j = 0; j < kv_.size(); ++j) {
      f->kv_[j].pages = kv_[j].pages;  // shared; copied on first write
      f->kv_[j].dirty = true;
    }
    f->n_kv_ = n_kv_;
    return f;
  }

  std::vector<float> read_state() const override {
    set_device(dm_.device);
    std::vector<float> s(static_cast<size_t>(layout_.size()));
    to_host(s.data(), state_.p, state_.n, stream_);
    return s;
  }

  void write_state(const std::vector<float>& s) override {
    if (s.size() != static_cast<size_t>(layout_.size())) fail(RWKVX_ERR_STATE_MISMATCH, "state size does not match this model");
    set_device(dm_.device);
    to_device(state_.p, s.data(), state_.n, stream_);
  }

  std::vector<uint8_t> read_kv() const override {
    set_device(dm_.device);
    const int64_t B = model_.hp.attn_chunk;
    const size_t rb = static_cast<size_t>(dm_.C) * (f16kv_ ? 2 : 4);
    std::vector<uint8_t> out(kv_bytes_per_token() * static_cast<size_t>(n_kv_));
    std::vector<uint8_t> page(2 * rb * static_cast<size_t>(B));
    size_t off = 0;
    for (const auto& b : kv_) {
      for (int64_t p0 = 0; p0 < n_kv_; p0 += B) {
        const int64_t rows = std::min(B, n_kv_ - p0);
        to_host(page.data(), b.pages[static_cast<size_t>(p0 / B)]->p, page.size(), stream_);
        for (int64_t r = 0; r < rows; ++r) {
          std::memcpy(out.data() + off, page.data() + rb * r, rb);
          std::memcpy(out.data() + off + rb, page.data() + rb * (B + r), rb);
          off += 2 * rb;
        }
      }
    }
    return out;
  }

  void write_kv(const uint8_t* data, size_t size, int64_t n) override {
    if (size != kv_bytes_per_token() * static_cast<size_t>(n)) fail(RWKVX_ERR_FORMAT, "KV blob size mismatch");
    set_device(dm_.device);
    const int64_t B = model_.hp.attn_chunk;
    const size_t rb = static_cast<size_t>(dm_.C) * (f16kv_ ? 2 : 4);
    const size_t pb = kv_page_bytes(B, dm_.C, f16kv_);
    // Build all pages first: a failure leaves the session's cache untouched.
    std::vector<std::vector<std::shared_ptr<Page>>> fresh(kv_.size());
    std::vector<uint8_t> page(2 * rb * static_cast<size_t>(B));
    size_t off = 0;
    for (size_t j = 0; j < kv_.size(); ++j) {
      for (int64_t p0 = 0; p0 < n; p0 += B) {
        const int64_t rows = std::min(B, n - p0);
        std::fill(page.begin(), page.end(), 0);
        for (int64_t r = 0; r < rows; ++r) {
          std::memcpy(page.data() + rb * r, data + off, rb);
          std::memcpy(page.data() + rb * (B + r), data + off + rb, rb);
          off += 2 * rb;
        }
        auto pg = std::make_shared<Page>(pb);
        to_device(pg->p, page.data(), page.size(), stream_);
        kv_page_resum(pg->p, rows, B, dm_.C, f16kv_, stream_);
        fresh[j].push_back(std::move(pg));
      }
    }
    stream_sync(stream_);
    for (size_t j = 0; j < kv_.size(); ++j) {
      kv_[j].pages = std::move(fresh[j]);
      kv_[j].dirty = true;
    }
    n_kv_ = n;
  }

  size_t kv_bytes_per_token() const override {
    return static_cast<size_t>(model_.hp.n_attn) * static_cast<size_t>(dm_.C) * 2 * (f16kv_ ? 2 : 4);
  }

  int preferred_chunk() const override {
    const char* e = std::getenv("RWKVX_CUDA_CHUNK");
    const int v = e ? std::atoi(e) : 0;
    return v > 0 ? v : 4096;
  }

 private:
  void release() {
    if (graph_exec_) cudaGraphExecDestroy(graph_exec_);
    graph_exec_ = nullptr;
    if (pinned_) cudaFreeHost(pinned_);
    pinned_ = nullptr;
    kv_.clear();
    ws_ = Workspace{};
    state_ = DevBuf{};
    if (stream_) stream_destroy(stream_);
    stream_ = nullptr;
  }

  void ensure_workspace(int64_t T, int64_t rows);
  void ensure_kv(int64_t pos0, int64_t T);
  void make_private(KvBlock& b, int64_t page);
  void body(int64_t T, int64_t pos0, int64_t rows);
  void time_mix(int64_t l, int64_t T);
  void channel_mix(const float* ln_w, const float* ln_b, const float* mu, const DevMat& key, const DevMat& value,
                   float* prev, int64_t T);
  void attention(int64_t j, int64_t T, int64_t pos0);
  void run_decode_graph();

  const Model& model_;
  const DevModel& dm_;
  StateLayout layout_;
  bool f16kv_;
  Stream stream_ = nullptr;
  DevBuf state_;
  std::vector<KvBlock> kv_;
  int64_t n_kv_ = 0;
  Workspace ws_;
  float* pinned_ = nullptr;
  bool use_graphs_ = true;
  cudaGraphExec_t graph_exec_ = nullptr;
  uint64_t ws_gen_ = 0, graph_gen_ = ~0ull;  // the graph bakes in workspace and table pointers
};

void CudaExecutor::ensure_workspace(int64_t T, int64_t rows) {
  if (T <= ws_.cap && rows <= ws_.cap_rows) return;
  const HParams& hp = model_.hp;
  const int64_t cap = std::max(T, ws_.cap), cap_rows = std::max(rows, ws_.cap_rows);
  const size_t tc = static_cast<size_t>(cap * hp.n_embd) * 4;
  Workspace w;  // built aside: on failure the old one stays
  w.cap = cap;
  w.cap_rows = cap_rows;
  for (DevBuf* b : {&w.h, &w.x, &w.xr, &w.xw, &w.xk, &w.xv, &w.xa, &w.xg, &w.r, &w.k, &w.v, &w.wl, &w.al, &w.vl, &w.g,
                    &w.w, &w.ain, &w.b, &w.vfirst, &w.y})
    *b = DevBuf(tc, "activations");
  const size_t lr = static_cast<size_t>(cap * std::max<int64_t>(dm_.max_lora, 1)) * 4;
  for (DevBuf* b : {&w.lw, &w.la, &w.lv, &w.lg}) *b = DevBuf(lr, "LoRA activations");
  w.ffn = DevBuf(static_cast<size_t>(cap * dm_.max_ffn) * 4, "channel-mix activations");
  w.wkv = DevBuf(cap >= 2 ? wkv7_chunked_workspace(cap, hp.n_head) : 16, "WKV workspace");
  w.moba_splits = moba_splits(1, hp.n_head);
  size_t mb = 16;
  if (hp.n_attn > 0) mb = moba_workspace_max(cap, hp.n_head, hp.attn_top_k);
  w.moba = DevBuf(mb, "attention workspace");
  w.logits = DevBuf(static_cast<size_t>(cap_rows * hp.n_vocab) * 4, "logits");
  w.xo = DevBuf(static_cast<size_t>(cap_rows * hp.n_embd) * 4, "head input");
  w.tokens = DevBuf(static_cast<size_t>(cap) * 4, "tokens");
  w.pos = DevBuf(8, "position");
  ws_ = std::move(w);
  ++ws_gen_;
}

void CudaExecutor::make_private(KvBlock& b, int64_t page) {
  auto& slot = b.pages[static_cast<size_t>(page)];
  if (slot.use_count() <= 1) return;
  const size_t pb = kv_page_bytes(model_.hp.attn_chunk, dm_.C, f16kv_);
  auto copy = std::make_shared<Page>(pb);
  dev_copy(copy->p, slot->p, pb, stream_);
  slot = std::move(copy);
  b.dirty = true;
}

// Pages for rows pos0..pos0+T-1: the partly filled one made private, new ones
// allocated, the device tables brought up to date.
void CudaExecutor::ensure_kv(int64_t pos0, int64_t T) {
  if (kv_.empty()) return;
  const int64_t B = model_.hp.attn_chunk;
  const int64_t need = (pos0 + T + B - 1) / B;
  const size_t pb = kv_page_bytes(B, dm_.C, f16kv_);
  for (auto& b : kv_) {
    if (pos0 % B != 0 && static_cast<int64_t>(b.pages.size()) > pos0 / B) make_private(b, pos0 / B);
    while (static_cast<int64_t>(b.pages.size()) < need) {
      auto pg = std::make_shared<Page>(pb);
      // zero the key sum (the rows are written before they are read)
      const size_t sum_off = 2 * static_cast<size_t>(B) * dm_.C * (f16kv_ ? 2 : 4);
      dev_fill(static_cast<uint8_t*>(pg->p) + sum_off, 0, static_cast<size_t>(dm_.C) * 4, stream_);
      b.pages.push_back(std::move(pg));
      b.dirty = true;
    }
    if (b.table_cap < need) {
      int64_t cap = std::max<int64_t>(b.table_cap * 2, 1024);
      while (cap < need) cap *= 2;
      b.table = DevBuf(static_cast<size_t>(cap) * sizeof(void*), "KV page table");
      b.table_cap = cap;
      b.dirty = true;
      ++ws_gen_;  // the table pointer is in the decode graph
    }
  }
  for (auto& b : kv_) {
    if (!b.dirty) continue;
    std::vector<void*> ptrs(b.pages.size());
    for (size_t i = 0; i < ptrs.size(); ++i) ptrs[i] = b.pages[i]->p;
    ck(cudaMemcpyAsync(b.table.p, ptrs.data(), ptrs.size() * sizeof(void*), cudaMemcpyHostToDevice, stream_),
       "KV page table");
    b.dirty = false;
  }
}

void CudaExecutor::time_mix(int64_t l, int64_t T) {
  const HParams& hp = model_.hp;
  const DevLayer& D = dm_.layers[static_cast<size_t>(l)];
  const int64_t C = hp.n_embd, H = hp.n_head;
  float* S = state_.f();
  Workspace& w = ws_;
  MixArgs mix{};
  mix.n = 6;
  const int mv[6] = {kXr, kXw, kXk, kXv, kXa, kXg};
  float* outs[6] = {w.xr.f(), w.xw.f(), w.xk.f(), w.xv.f(), w.xa.f(), w.xg.f()};
  for (int i = 0; i < 6; ++i) { mix.mu[i] = D.vec(mv[i]); mix.out[i] = outs[i]; }
  ln_shift_mix(w.h.f(), D.vec(kLn1W), D.vec(kLn1B), hp.ln_eps, w.x.f(), S + layout_.att_x(l), mix, T, C, stream_);

  LinearJob first[7] = {
      {&D.wr.m, w.xr.f(), w.r.f(), kActNone, false},
      {&D.wk.m, w.xk.f(), w.k.f(), kActNone, false},
      {&D.wv.m, w.xv.f(), w.v.f(), kActNone, false},
      {&D.w1.m, w.xw.f(), w.lw.f(), kActTanh, false},
      {&D.a1.m, w.xa.f(), w.la.f(), kActNone, false},
      {&D.g1.m, w.xg.f(), w.lg.f(), kActSigmoid, false},
      {&D.v1.m, w.xv.f(), w.lv.f(), kActNone, false},
  };
  const bool vres = l > 0 && D.has_v;
  linear(first, vres ? 7 : 6, T, stream_);
  LinearJob second[4] = {
      {&D.w2.m, w.lw.f(), w.wl.f(), kActNone, false},
      {&D.a2.m, w.la.f(), w.al.f(), kActNone, false},
      {&D.g2.m, w.lg.f(), w.g.f(), kActNone, false},
      {&D.v2.m, w.lv.f(), w.vl.f(), kActNone, false},
  };
  linear(second, vres ? 4 : 3, T, stream_);

  if (l > 0 && !vres) fail(RWKVX_ERR_SHAPE, "layer %lld has no value-residual LoRA", (long long)l);
  if (T == 1) {  // decode: gates, recurrence and output norm in one kernel per head
    DecodeCoreArgs dc{};
    dc.r = w.r.f(); dc.k = w.k.f(); dc.v = w.v.f(); dc.g = w.g.f();
    dc.wl = w.wl.f(); dc.al = w.al.f(); dc.vl = vres ? w.vl.f() : nullptr;
    dc.w0 = D.vec(kW0); dc.a0 = D.vec(kA0); dc.v0 = D.vec(kV0); dc.k_k = D.vec(kKk); dc.k_a = D.vec(kKa);
    dc.r_k = D.vec(kRk); dc.lnx_w = D.vec(kLnxW); dc.lnx_b = D.vec(kLnxB);
    dc.vfirst = w.vfirst.f();
    dc.eps = hp.lnx_eps;
    dc.first_layer = l == 0;
    wkv7_decode_fused(dc, H, S + layout_.wkv(l), w.y.f(), stream_);
    LinearJob o{&D.wo.m, w.y.f(), w.h.f(), kActNone, true};
    linear(&o, 1, T, stream_);
    return;
  }

  GateArgs ga{};
  ga.wl = w.wl.f(); ga.al = w.al.f(); ga.vl = vres ? w.vl.f() : nullptr;
  ga.w0 = D.vec(kW0); ga.a0 = D.vec(kA0); ga.v0 = D.vec(kV0); ga.k_k = D.vec(kKk); ga.k_a = D.vec(kKa);
  ga.k = w.k.f(); ga.v = w.v.f(); ga.vfirst = w.vfirst.f();
  ga.w = w.w.f(); ga.a_in = w.ain.f(); ga.b = w.b.f();
  ga.first_layer = l == 0;
  if (l > 0 && !vres) fail(RWKVX_ERR_SHAPE, "layer %lld has no value-residual LoRA", (long long)l);
  tmix_gates(ga, T, H, stream_);

  static const bool force_seq = std::getenv("RWKVX_CUDA_WKV") && std::strcmp(std::getenv("RWKVX_CUDA_WKV"), "seq") == 0;
  if (T >= 64 && !force_seq)
    wkv7_chunked(T, H, w.r.f(), w.w.f(), w.k.f(), w.v.f(), w.ain.f(), w.b.f(), S + layout_.wkv(l), w.y.f(), w.wkv.p, stream_);
  else
    wkv7_seq(T, H, w.r.f(), w.w.f(), w.k.f(), w.v.f(), w.ain.f(), w.b.f(), S + layout_.wkv(l), w.y.f(), stream_);

  tmix_out(w.y.f(), w.r.f(), w.k.f(), w.v.f(), w.g.f(), D.vec(kLnxW), D.vec(kLnxB), D.vec(kRk), hp.lnx_eps, T, H, stream_);
  LinearJob o{&D.wo.m, w.y.f(), w.h.f(), kActNone, true};
  linear(&o, 1, T, stream_);
}

void CudaExecutor::channel_mix(const float* ln_w, const float* ln_b, const float* mu, const DevMat& key,
                               const DevMat& value, float* prev, int64_t T) {
  Workspace& w = ws_;
  MixArgs mix{};
  mix.n = 1;
  mix.mu[0] = mu;
  mix.out[0] = w.xk.f();
  ln_shift_mix(w.h.f(), ln_w, ln_b, model_.hp.ln_eps, w.x.f(), prev, mix, T, model_.hp.n_embd, stream_);
  LinearJob k{&key, w.xk.f(), w.ffn.f(), kActRelu2, false};
  linear(&k, 1, T, stream_);
  LinearJob v{&value, w.ffn.f(), w.h.f(), kActNone, true};
  linear(&v, 1, T, stream_);
}

void CudaExecutor::attention(int64_t j, int64_t T, int64_t pos0) {
  const HParams& hp = model_.hp;
  const DevAttn& A = dm_.attn[static_cast<size_t>(j)];
  Workspace& w = ws_;
  layer_norm(w.h.f(), A.vec(kALn1W), A.vec(kALn1B), w.x.f(), T, hp.n_embd, hp.ln_eps, stream_);
  LinearJob qkv[3] = {{&A.wq.m, w.x.f(), w.r.f(), kActNone, false},
                      {&A.wk.m, w.x.f(), w.k.f(), kActNone, false},
                      {&A.wv.m, w.x.f(), w.v.f(), kActNone, false}};
  linear(qkv, 3, T, stream_);
  const KvView kv{static_cast<void* const*>(kv_[static_cast<size_t>(j)].table.p), hp.attn_chunk, hp.n_embd, f16kv_};
  const int64_t* dpos = static_cast<const int64_t*>(ws_.pos.p);
  kv_append(kv, w.k.f(), w.v.f(), T, dpos, pos0, stream_);
  const int splits = T == 1 ? w.moba_splits : moba_splits(T, hp.n_head);
  moba_attention(kv, w.r.f(), T, dpos, hp.n_head, hp.attn_top_k, 1.f / std::sqrt(static_cast<float>(hp.head_size)),
                 w.y.f(), w.moba.p, splits, stream_, T == 1 ? -1 : pos0);
  LinearJob o{&A.wo.m, w.y.f(), w.h.f(), kActNone, true};
  linear(&o, 1, T, stream_);
  channel_mix(A.vec(kALn2W), A.vec(kALn2B), A.vec(kAFfnXk), A.key.m, A.value.m,
              state_.f() + layout_.attn_ffn_x(j), T);
}

// The whole forward for T tokens whose ids and position are already in the
// workspace; logits of the last `rows` tokens land in ws_.logits.
void CudaExecutor::body(int64_t T, int64_t pos0, int64_t rows) {
  const HParams& hp = model_.hp;
  const int64_t C = hp.n_embd;
  const float* gv = dm_.gvecs.f();
  const size_t stride = (static_cast<size_t>(C) + 3) / 4 * 4;
  embed_ln(dm_.emb.m, static_cast<const int32_t*>(ws_.tokens.p), T, gv, gv + stride, hp.ln_eps, ws_.h.f(), stream_);
  size_t next_attn = 0;
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const DevLayer& D = dm_.layers[static_cast<size_t>(l)];
    time_mix(l, T);
    channel_mix(D.vec(kLn2W), D.vec(kLn2B), D.vec(kFfnXk), D.key.m, D.value.m, state_.f() + layout_.ffn_x(l), T);
    while (next_attn < dm_.attn.size() && hp.attn_after[next_attn] == l) {
      attention(static_cast<int64_t>(next_attn), T, pos0);
      ++next_attn;
    }
  }
  layer_norm(ws_.h.f() + (T - rows) * C, gv + 2 * stride, gv + 3 * stride, ws_.xo.f(), rows, C, hp.ln_eps, stream_);
  LinearJob head{&dm_.head.m, ws_.xo.f(), ws_.logits.f(), kActNone, false};
  linear(&head, 1, rows, stream_);
}

void CudaExecutor::run_decode_graph() {
  if (graph_exec_ && graph_gen_ != ws_gen_) {
    cudaGraphExecDestroy(graph_exec_);
    graph_exec_ = nullptr;
  }
  if (!graph_exec_) {
    cudaGraph_t graph = nullptr;
    ck(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "decode graph capture");
    bool ok = true;
    try {
      body(1, 0, 1);  // the host position only sizes grids: one page for one token
    } catch (...) {
      ok = false;
    }
    const cudaError_t e = cudaStreamEndCapture(stream_, &graph);
    if (!ok || e != cudaSuccess || graph == nullptr ||
        cudaGraphInstantiate(&graph_exec_, graph, 0) != cudaSuccess) {
      cudaGetLastError();
      if (graph) cudaGraphDestroy(graph);
      graph_exec_ = nullptr;
      use_graphs_ = false;  // run this session without graphs
      body(1, 0, 1);
      return;
    }
    cudaGraphDestroy(graph);
    graph_gen_ = ws_gen_;
  }
  ck(cudaGraphLaunch(graph_exec_, stream_), "decode graph launch");
}

void CudaExecutor::forward(const int32_t* tokens, int64_t T, int64_t pos0, float* logits, bool all_logits) {
  const HParams& hp = model_.hp;
  if (T <= 0) return;
  if (hp.n_attn > 0 && pos0 != n_kv_)
    fail(RWKVX_ERR_INTERNAL, "CUDA executor: position %lld but %lld KV rows", (long long)pos0, (long long)n_kv_);
  set_device(dm_.device);
  const int64_t rows = all_logits ? T : 1;
  // Everything this call allocates comes first: an OOM leaves no trace.
  ensure_workspace(T, rows);
  ensure_kv(pos0, T);
  reserve_linear_scratch(T, std::max<int64_t>(hp.n_embd, dm_.max_ffn));
  ck(cudaMemcpyAsync(ws_.tokens.p, tokens, static_cast<size_t>(T) * 4, cudaMemcpyHostToDevice, stream_), "tokens");
  ck(cudaMemcpyAsync(ws_.pos.p, &pos0, 8, cudaMemcpyHostToDevice, stream_), "position");
  if (T == 1 && use_graphs_) {
    run_decode_graph();
  } else {
    body(T, pos0, rows);
  }
  const size_t lb = static_cast<size_t>(rows * hp.n_vocab) * 4;
  if (pinned_ != nullptr && rows == 1) {
    ck(cudaMemcpyAsync(pinned_, ws_.logits.p, lb, cudaMemcpyDeviceToHost, stream_), "logits");
    stream_sync(stream_);
    std::memcpy(logits, pinned_, lb);
  } else {
    to_host(logits, ws_.logits.p, lb, stream_);
  }
  n_kv_ = hp.n_attn > 0 ? n_kv_ + T : n_kv_;
}

std::unique_ptr<Executor> CudaBackend::make(const Model& model, Runtime&, rwkvx_kv_type kv_type) {
  return std::make_unique<CudaExecutor>(model, dm_, kv_type == RWKVX_KV_F16);
}

}  // namespace

Probe probe(int device) {
  Probe p;
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    p.why = std::string("CUDA unavailable: ") + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")";
    return p;
  }
  if (n == 0) {
    p.why = "no CUDA device";
    return p;
  }
  if (device < 0 || device >= n) {
    p.why = "cuda:" + std::to_string(device) + " does not exist (" + std::to_string(n) + " device(s))";
    return p;
  }
  cudaDeviceProp prop{};
  e = cudaGetDeviceProperties(&prop, device);
  if (e == cudaSuccess) e = cudaSetDevice(device);
  if (e == cudaSuccess) e = cudaFree(nullptr);  // makes the context
  if (e == cudaSuccess) e = cudaMemGetInfo(&p.free_bytes, &p.total_bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    p.why = std::string("cuda:") + std::to_string(device) + ": " + cudaGetErrorString(e);
    return p;
  }
  p.name = prop.name;
  p.cc_major = prop.major;
  p.cc_minor = prop.minor;
  p.sm_count = prop.multiProcessorCount;
  if (prop.major < 8) {
    p.why = p.name + " has compute capability " + std::to_string(prop.major) + "." + std::to_string(prop.minor) +
            "; the CUDA backend needs 8.0 or newer";
    return p;
  }
  p.ok = true;
  return p;
}

std::unique_ptr<ExecutorFactory> make_backend(const Model& model, int device, std::string* summary) {
  const Probe pr = probe(device);
  if (!pr.ok) fail(RWKVX_ERR_DEVICE, "%s", pr.why.c_str());
  if (model.hp.head_size != 64)
    fail(RWKVX_ERR_UNSUPPORTED, "the CUDA backend needs head size 64, the model has %d", model.hp.head_size);
  if (model.hp.n_attn > 0 && (model.hp.attn_top_k < 1 || model.hp.attn_top_k > kMaxTopK))
    fail(RWKVX_ERR_UNSUPPORTED, "the CUDA backend supports attention top-k up to %d", kMaxTopK);
  set_device(device);
  auto b = std::make_unique<CudaBackend>(model, device);
  if (summary) {
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "weights %.1f MB on cuda:%d (%s, sm_%d%d); %.1f of %.1f GB free; a session needs %.1f MB plus "
                  "%.1f MB per %d-token KV page",
                  b->dm().bytes / 1e6, device, pr.name.c_str(), pr.cc_major, pr.cc_minor, free_b / 1e9, total_b / 1e9,
                  session_base_bytes(model) / 1e6,
                  model.hp.n_attn > 0 ? model.hp.n_attn * kv_page_bytes(model.hp.attn_chunk, model.hp.n_embd, true) / 1e6 : 0.0,
                  model.hp.n_attn > 0 ? model.hp.attn_chunk : 0);
    *summary = buf;
  }
  return b;
}

size_t session_base_bytes(const Model& model) {
  const HParams& hp = model.hp;
  const size_t state = static_cast<size_t>(state_layout(hp).size()) * 4;
  const int64_t T = 4096;  // the default chunk's workspace
  const size_t act = static_cast<size_t>(T) * hp.n_embd * 4 * 20 + static_cast<size_t>(T) * 4 * hp.n_ffn * 4 +
                     wkv7_chunked_workspace(T, hp.n_head) + static_cast<size_t>(hp.n_vocab) * 4;
  return state + act;
}

}  // namespace cuda
}  // namespace rwkvx
