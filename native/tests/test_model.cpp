// Whole-model tests on the tiny fixture models: golden logits and state from
// the independent numpy reference, chunked prefill == token by token, every
// SIMD level == scalar, snapshot/restore/fork/save/load, bad input.
#include <cmath>
#include <cstring>
#include <fstream>

#include "error.h"
#include "model_fixtures.h"

using namespace rwkvx;
using fixtures::Loaded;

namespace {

double logits_err(const std::vector<float>& got, const testing::Npy& ref) {
  if (got.size() != ref.data.size()) return INFINITY;
  return testing::rel_err(got.data(), ref.data.data(), got.size());
}

}  // namespace

TEST(rwkv7_logits_match_numpy_reference) {
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    const std::string path = fixtures::convert("rwkv7-tiny-bf16.pth", std::string("rwkv7-golden-") + dtype_name(t) + ".gguf", t);
    Loaded m(path);
    auto s = m.session();
    const auto toks = fixtures::fixture_tokens("rwkv7-tiny.json");
    REQUIRE(toks.size() == 64);
    const auto got = fixtures::all_logits(*s, toks, m.vocab());
    const double e = logits_err(got, testing::read_npy(testing::fixture("models/rwkv7-tiny-logits.npy")));
    CHECK_MSG(e < 2e-5, "%s: normalized error %g", dtype_name(t), e);
  }
}

TEST(rwkv7_state_matches_numpy_reference) {
  Loaded m(fixtures::rwkv7_f32());
  auto s = m.session();
  const auto toks = fixtures::fixture_tokens("rwkv7-tiny.json");
  fixtures::all_logits(*s, toks, m.vocab());
  const StateLayout L = state_layout(m.model->hp);
  const auto att = testing::read_npy(testing::fixture("models/rwkv7-tiny-state-att-x.npy"));
  const auto ffn = testing::read_npy(testing::fixture("models/rwkv7-tiny-state-ffn-x.npy"));
  const auto wkv = testing::read_npy(testing::fixture("models/rwkv7-tiny-state-wkv.npy"));
  const int64_t wn = L.H * L.N * L.N;
  for (int64_t l = 0; l < L.n_layer; ++l) {
    const std::vector<float> state = s->state();
    const float* st = state.data();
    CHECK(testing::rel_err(st + L.att_x(l), att.data.data() + l * L.C, L.C) < 1e-5);
    CHECK(testing::rel_err(st + L.ffn_x(l), ffn.data.data() + l * L.C, L.C) < 1e-5);
    CHECK_MSG(testing::rel_err(st + L.wkv(l), wkv.data.data() + l * wn, wn) < 2e-5, "wkv layer %lld", (long long)l);
  }
}

TEST(converted_formats_agree) {
  // The same weights stored bf16 / fp16 / fp32 and in fla-hub layout give the same logits.
  const auto toks = fixtures::fixture_tokens("rwkv7-tiny.json");
  const auto ref = testing::read_npy(testing::fixture("models/rwkv7-tiny-logits.npy"));
  for (const char* src : {"rwkv7-tiny-fp16.pth", "rwkv7-tiny-fp32.pth", "rwkv7-tiny-fla"}) {
    const std::string path = fixtures::convert(src, std::string("fmt-") + src + ".gguf", DType::F32);
    Loaded m(path);
    auto s = m.session();
    CHECK_MSG(logits_err(fixtures::all_logits(*s, toks, m.vocab()), ref) < 2e-5, "%s", src);
  }
}

TEST(q8_0_stays_close) {
  Loaded m(fixtures::convert("rwkv7-tiny-bf16.pth", "rwkv7-q8.gguf", DType::Q8_0));
  auto s = m.session();
  const auto toks = fixtures::fixture_tokens("rwkv7-tiny.json");
  const double e = logits_err(fixtures::all_logits(*s, toks, m.vocab()), testing::read_npy(testing::fixture("models/rwkv7-tiny-logits.npy")));
  CHECK_MSG(e < 0.05, "Q8_0 normalized error %g", e);
  CHECK(e > 0);  // it is really quantized
}

TEST(rwkvx_logits_match_numpy_reference) {
  const auto toks = fixtures::fixture_tokens("rwkvx-tiny.json");
  REQUIRE(toks.size() == 100);
  const auto ref = testing::read_npy(testing::fixture("models/rwkvx-tiny-logits.npy"));
  Loaded m(fixtures::rwkvx_f32());
  REQUIRE(m.model->hp.n_attn == 2 && m.model->hp.attn_chunk == 16 && m.model->hp.attn_top_k == 3);
  for (int chunk : {1, 7, 64}) {
    auto s = m.session(chunk);
    const double e = logits_err(fixtures::all_logits(*s, toks, m.vocab()), ref);
    CHECK_MSG(e < 2e-5, "prefill chunk %d: normalized error %g", chunk, e);
  }
  auto s16 = m.session(0, RWKVX_KV_F16);
  const double e16 = logits_err(fixtures::all_logits(*s16, toks, m.vocab()), ref);
  CHECK_MSG(e16 < 5e-3, "fp16 KV cache: normalized error %g", e16);
}

TEST(chunked_prefill_equals_token_by_token) {
  for (const std::string& path : {fixtures::rwkv7_f32(), fixtures::rwkvx_f32()}) {
    Loaded m(path);
    const auto toks = fixtures::fixture_tokens(m.model->hp.n_attn ? "rwkvx-tiny.json" : "rwkv7-tiny.json");
    auto serial = m.session(1);
    auto chunked = m.session(32);
    const auto a = fixtures::all_logits(*serial, toks, m.vocab());
    const auto b = fixtures::all_logits(*chunked, toks, m.vocab());
    CHECK(testing::rel_err(b.data(), a.data(), a.size()) < 1e-5);
    const std::vector<float> sc = chunked->state(), ss = serial->state();
    CHECK(testing::rel_err(sc.data(), ss.data(), ss.size()) < 1e-5);
  }
}

TEST(every_simd_level_equals_scalar) {
  for (const std::string& path : {fixtures::rwkv7_f32(), fixtures::rwkvx_f32()}) {
    Loaded ref(path, &scalar_kernels());
    const auto toks = fixtures::fixture_tokens(ref.model->hp.n_attn ? "rwkvx-tiny.json" : "rwkv7-tiny.json");
    auto rs = ref.session();
    const auto want = fixtures::all_logits(*rs, toks, ref.vocab());
    for (const char* level : {"avx2", "avx512"}) {
      const KernelSet* k = kernels_for(level);
      if (k == nullptr) continue;
      Loaded m(path, k);
      auto s = m.session();
      const auto got = fixtures::all_logits(*s, toks, m.vocab());
      CHECK_MSG(testing::rel_err(got.data(), want.data(), got.size()) < 1e-5, "%s", level);
    }
  }
}

TEST(snapshot_restore_continue_equals_uninterrupted) {
  for (const std::string& path : {fixtures::rwkv7_f32(), fixtures::rwkvx_f32()}) {
    Loaded m(path);
    const auto toks = fixtures::fixture_tokens(m.model->hp.n_attn ? "rwkvx-tiny.json" : "rwkv7-tiny.json");
    const int64_t V = m.vocab(), n = static_cast<int64_t>(toks.size()), cut = 37;
    auto straight = m.session();
    const auto want = fixtures::all_logits(*straight, toks, static_cast<int>(V));

    auto s = m.session();
    s->feed(toks.data(), cut, nullptr, false, nullptr, nullptr);
    const std::vector<float> snap = s->state();
    const uint64_t hash = s->prefix_hash(cut);
    // wander off: feed something else, then come back
    std::vector<int32_t> other(toks.rbegin(), toks.rend());
    s->feed(other.data(), 20, nullptr, false, nullptr, nullptr);
    s->restore(snap, cut, hash);
    CHECK(s->n_past() == cut);
    std::vector<float> rest(static_cast<size_t>((n - cut) * V));
    s->feed(toks.data() + cut, n - cut, rest.data(), true, nullptr, nullptr);
    CHECK(testing::rel_err(rest.data(), want.data() + cut * V, rest.size()) < 1e-5);

    // save → load into a fresh session → continue
    auto t = m.session();
    t->feed(toks.data(), cut, nullptr, false, nullptr, nullptr);
    const std::vector<uint8_t> blob = t->save();
    auto u = m.session();
    u->load(blob.data(), blob.size());
    CHECK(u->n_past() == cut && u->has_logits());
    std::vector<float> rest2(rest.size());
    u->feed(toks.data() + cut, n - cut, rest2.data(), true, nullptr, nullptr);
    CHECK(testing::rel_err(rest2.data(), want.data() + cut * V, rest2.size()) < 1e-5);

    // fork: both continue exactly, independently
    auto base = m.session();
    base->feed(toks.data(), cut, nullptr, false, nullptr, nullptr);
    auto f = base->fork();
    f->feed(other.data(), 25, nullptr, false, nullptr, nullptr);  // fork writes into shared KV pages
    std::vector<float> rest3(rest.size());
    base->feed(toks.data() + cut, n - cut, rest3.data(), true, nullptr, nullptr);
    CHECK(testing::rel_err(rest3.data(), want.data() + cut * V, rest3.size()) < 1e-5);
  }
}

TEST(restore_refuses_a_changed_prefix) {
  Loaded m(fixtures::rwkvx_f32());
  const auto toks = fixtures::fixture_tokens("rwkvx-tiny.json");
  auto s = m.session();
  s->feed(toks.data(), 40, nullptr, false, nullptr, nullptr);
  const std::vector<float> snap = s->state();
  const uint64_t hash = s->prefix_hash(40);
  s->truncate(30);
  std::vector<int32_t> other(toks.rbegin(), toks.rend());
  s->feed(other.data(), 15, nullptr, false, nullptr, nullptr);
  bool threw = false;
  try {
    s->restore(snap, 40, hash);
  } catch (const Error& e) {
    threw = e.code() == RWKVX_ERR_STATE_MISMATCH;
  }
  CHECK(threw);
  CHECK(s->n_past() == 45);  // nothing lost
}

TEST(session_blob_corruption_is_detected) {
  Loaded m(fixtures::rwkvx_f32());
  const auto toks = fixtures::fixture_tokens("rwkvx-tiny.json");
  auto s = m.session();
  s->feed(toks.data(), 20, nullptr, false, nullptr, nullptr);
  std::vector<uint8_t> blob = s->save();
  auto t = m.session();
  t->feed(toks.data(), 5, nullptr, false, nullptr, nullptr);
  for (size_t at : {size_t(3), blob.size() / 2, blob.size() - 9}) {
    std::vector<uint8_t> bad = blob;
    bad[at] ^= 0x40;
    bool threw = false;
    try { t->load(bad.data(), bad.size()); } catch (const Error& e) { threw = e.code() == RWKVX_ERR_FORMAT; }
    CHECK_MSG(threw, "flip at %zu", at);
  }
  bool threw = false;
  try { t->load(blob.data(), blob.size() / 3); } catch (const Error& e) { threw = e.code() == RWKVX_ERR_FORMAT; }
  CHECK(threw);
  CHECK(t->n_past() == 5);  // a failed load changes nothing
  // a blob of another model
  Loaded other(fixtures::rwkv7_f32());
  auto o = other.session();
  threw = false;
  try { o->load(blob.data(), blob.size()); } catch (const Error& e) { threw = e.code() == RWKVX_ERR_STATE_MISMATCH; }
  CHECK(threw);
}

TEST(bad_tokens_and_context_limit) {
  Loaded m(fixtures::rwkvx_f32());
  rwkvx_session_params p = rwkvx_session_default_params();
  p.n_ctx = 10;
  Session s(*m.model, *m.rt, p);
  const int32_t bad[] = {1, 2, 999999};
  bool threw = false;
  try { s.feed(bad, 3, nullptr, false, nullptr, nullptr); } catch (const Error& e) { threw = e.code() == RWKVX_ERR_INVALID_ARGUMENT; }
  CHECK(threw && s.n_past() == 0);
  std::vector<int32_t> many(11, 5);
  threw = false;
  try { s.feed(many.data(), 11, nullptr, false, nullptr, nullptr); } catch (const Error& e) { threw = e.code() == RWKVX_ERR_CONTEXT_FULL; }
  CHECK(threw && s.n_past() == 0);
}

TEST_MAIN
