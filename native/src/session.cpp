#include "session.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "error.h"
#include "serialize.h"

namespace rwkvx {

uint64_t hash_step(uint64_t h, int32_t token) {
  // FNV-1a over the token's four bytes, then a final mix so prefixes of
  // different lengths never collide trivially.
  for (int i = 0; i < 4; ++i) {
    h ^= static_cast<uint8_t>(static_cast<uint32_t>(token) >> (8 * i));
    h *= 0x100000001b3ull;
  }
  return h ^ (h >> 29);
}

namespace {
constexpr uint64_t kHashSeed = 0xcbf29ce484222325ull;
constexpr int kDefaultPrefillChunk = 128;
constexpr int64_t kDefaultAttnCtx = int64_t(1) << 20;
}  // namespace

Session::Session(const Model& model, Runtime& rt, const rwkvx_session_params& params)
    : model_(model), rt_(rt), params_(params), layout_(state_layout(model.hp)) {
  const HParams& hp = model.hp;
  if (params.n_ctx < 0) fail(RWKVX_ERR_INVALID_ARGUMENT, "n_ctx must be >= 0, got %lld", (long long)params.n_ctx);
  if (params.prefill_chunk < 0) fail(RWKVX_ERR_INVALID_ARGUMENT, "prefill_chunk must be >= 0");
  if (params.kv_type != RWKVX_KV_F32 && params.kv_type != RWKVX_KV_F16)
    fail(RWKVX_ERR_INVALID_ARGUMENT, "unknown kv_type %d", static_cast<int>(params.kv_type));
  n_ctx_ = params.n_ctx > 0 ? params.n_ctx : (hp.n_attn > 0 ? kDefaultAttnCtx : std::numeric_limits<int64_t>::max());
  prefill_chunk_ = params.prefill_chunk > 0 ? params.prefill_chunk : kDefaultPrefillChunk;
  const KvType kt = params.kv_type == RWKVX_KV_F16 ? KvType::F16 : KvType::F32;
  for (int j = 0; j < hp.n_attn; ++j) kv_.emplace_back(hp.n_embd, hp.attn_chunk, kt);
  last_logits_.assign(static_cast<size_t>(hp.n_vocab), 0.f);
  reset();
}

void Session::reset() {
  state_.assign(static_cast<size_t>(layout_.size()), 0.f);
  for (auto& k : kv_) k.clear();
  tokens_.clear();
  prefix_hash_.assign(1, kHashSeed);
  has_logits_ = false;
}

bool Session::should_abort() const {
  if (abort_flag_.load()) return true;
  return params_.abort_callback != nullptr && params_.abort_callback(params_.abort_user_data) != 0;
}

void Session::push_tokens(const int32_t* tokens, int64_t T) {
  for (int64_t t = 0; t < T; ++t) {
    tokens_.push_back(tokens[t]);
    prefix_hash_.push_back(hash_step(prefix_hash_.back(), tokens[t]));
  }
}

void Session::feed(const int32_t* tokens, int64_t n, float* logits, bool all_logits, rwkvx_progress_fn progress,
                   void* progress_user_data) {
  const int64_t V = model_.hp.n_vocab;
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= V)
      fail(RWKVX_ERR_INVALID_ARGUMENT, "token id %d at index %lld is outside the vocabulary [0, %lld)", tokens[i],
           (long long)i, (long long)V);
  if (n_past() + n > n_ctx_)
    fail(RWKVX_ERR_CONTEXT_FULL, "feeding %lld tokens would exceed the session's n_ctx %lld (now %lld)", (long long)n,
         (long long)n_ctx_, (long long)n_past());
  for (int64_t done = 0; done < n;) {
    if (should_abort()) fail(RWKVX_ERR_ABORTED, "aborted after %lld of %lld tokens", (long long)done, (long long)n);
    const int64_t T = std::min<int64_t>(prefill_chunk_, n - done);
    const bool last = done + T == n;
    float* out = nullptr;
    if (all_logits) out = logits + done * V;
    else if (last && logits != nullptr) out = logits;
    forward_chunk(tokens + done, T, out, all_logits);
    push_tokens(tokens + done, T);
    done += T;
    if (progress != nullptr && progress(static_cast<uint64_t>(done), static_cast<uint64_t>(n), progress_user_data) != 0 &&
        done < n)
      fail(RWKVX_ERR_ABORTED, "aborted by progress callback after %lld of %lld tokens", (long long)done, (long long)n);
  }
}

void Session::truncate(int64_t n) {
  if (n < 0 || n > n_past())
    fail(RWKVX_ERR_INVALID_ARGUMENT, "truncate to %lld outside [0, %lld]", (long long)n, (long long)n_past());
  for (auto& k : kv_) k.truncate(n);
  tokens_.resize(static_cast<size_t>(n));
  prefix_hash_.resize(static_cast<size_t>(n + 1));
  has_logits_ = false;
}

std::unique_ptr<Session> Session::fork() const {
  auto s = std::make_unique<Session>(model_, rt_, params_);
  s->state_ = state_;
  s->kv_.clear();
  for (const auto& k : kv_) s->kv_.push_back(k.fork());
  s->tokens_ = tokens_;
  s->prefix_hash_ = prefix_hash_;
  s->last_logits_ = last_logits_;
  s->has_logits_ = has_logits_;
  return s;
}

void Session::restore(const std::vector<float>& state, int64_t n, uint64_t hash) {
  if (state.size() != state_.size()) fail(RWKVX_ERR_STATE_MISMATCH, "snapshot state size does not match this model");
  if (n > n_past() || prefix_hash_[static_cast<size_t>(n)] != hash)
    fail(RWKVX_ERR_STATE_MISMATCH,
         "snapshot at %lld tokens does not match this session's token prefix (the session has %lld tokens%s)",
         (long long)n, (long long)n_past(), n > n_past() ? "" : " and a different prefix");
  truncate(n);
  state_ = state;
}

// Whole-session blob: header, state, tokens, KV rows per attention block,
// last logits, checksum.
std::vector<uint8_t> Session::save() const {
  ByteWriter w;
  w.magic("RWKVXSES");
  w.u32(1);
  w.u64(model_.fingerprint);
  w.i64(n_past());
  w.u32(static_cast<uint32_t>(params_.kv_type));
  w.floats(state_);
  w.bytes(tokens_.data(), tokens_.size() * 4);
  for (const auto& k : kv_) {
    std::vector<uint8_t> rows;
    k.write_rows(rows);
    w.u64(rows.size());
    w.bytes(rows.data(), rows.size());
  }
  w.u8(has_logits_ ? 1 : 0);
  if (has_logits_) w.floats(last_logits_);
  w.finish_checksum();
  return w.take();
}

void Session::load(const uint8_t* data, size_t size) {
  ByteReader r(data, size, "session blob");
  r.verify_checksum();
  r.expect_magic("RWKVXSES");
  const uint32_t version = r.u32();
  if (version != 1) fail(RWKVX_ERR_FORMAT, "session blob version %u is not supported", version);
  if (r.u64() != model_.fingerprint) fail(RWKVX_ERR_STATE_MISMATCH, "session blob was saved with another model");
  const int64_t n = r.i64();
  if (n < 0 || n > n_ctx_) fail(RWKVX_ERR_FORMAT, "session blob has %lld tokens (n_ctx %lld)", (long long)n, (long long)n_ctx_);
  if (r.u32() != static_cast<uint32_t>(params_.kv_type))
    fail(RWKVX_ERR_STATE_MISMATCH, "session blob uses another KV cache type than this session");
  std::vector<float> state = r.floats();
  if (state.size() != state_.size()) fail(RWKVX_ERR_STATE_MISMATCH, "session blob state size does not match");
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  r.read(tokens.data(), tokens.size() * 4);
  const int64_t V = model_.hp.n_vocab;
  for (int32_t t : tokens)
    if (t < 0 || t >= V) fail(RWKVX_ERR_FORMAT, "session blob holds token %d outside the vocabulary", t);
  std::vector<KvStore> kv = kv_;
  for (auto& k : kv) {
    const uint64_t len = r.u64();
    if (len != static_cast<uint64_t>(n) * k.bytes_per_token()) fail(RWKVX_ERR_FORMAT, "session blob KV size mismatch");
    k.read_rows(r.take(len), n);
  }
  const bool has_logits = r.u8() != 0;
  std::vector<float> logits;
  if (has_logits) {
    logits = r.floats();
    if (logits.size() != last_logits_.size()) fail(RWKVX_ERR_FORMAT, "session blob logits size mismatch");
  }
  r.expect_end();
  // Commit only after everything parsed: a bad blob leaves the session as it was.
  state_ = std::move(state);
  kv_ = std::move(kv);
  tokens_.clear();
  prefix_hash_.assign(1, kHashSeed);
  push_tokens(tokens.data(), n);
  has_logits_ = has_logits;
  if (has_logits) last_logits_ = std::move(logits);
}

}  // namespace rwkvx
